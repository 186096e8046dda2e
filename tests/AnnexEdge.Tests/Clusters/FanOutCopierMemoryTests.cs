using System.Security.Cryptography;
using AnnexEdge.Clusters;

namespace AnnexEdge.Tests.Clusters;

/// <summary>Measures allocations process-wide, so it runs while no other test does.</summary>
[CollectionDefinition(nameof(FanOutCopierMemoryTests), DisableParallelization = true)]
public sealed class FanOutCopierMemoryGroup;

[Collection(nameof(FanOutCopierMemoryTests))]
public sealed class FanOutCopierMemoryTests
{
    private static readonly TimeSpan LongStall = TimeSpan.FromSeconds(30);

    /// <summary>
    /// 256 MiB through 3 destinations: the copy holds a bounded amount of memory (each destination queues at most
    /// 1 MiB of shared, pooled segments), so what it allocates over the whole run is a small fraction of the 768 MiB delivered.
    /// </summary>
    [Fact]
    public async Task Memory_stays_bounded_for_a_256_MiB_source_through_3_destinations()
    {
        var ct = TestContext.Current.CancellationToken;
        const long length = 256L * 1024 * 1024;
        var time = TimeProvider.System;
        var destinations = new[]
        {
            new FanOutDestination("a", 0, time), new FanOutDestination("b", 0, time), new FanOutDestination("c", 4096, time),
        };
        var sinks = destinations.Select(_ => new HashingSink()).ToArray();

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var readers = destinations.Select((d, i) => d.Content.CopyToAsync(sinks[i], ct)).ToArray();
        var read = await FanOutCopier.CopyAsync(new SyntheticStream(length), destinations, LongStall, time, ct);
        await Task.WhenAll(readers);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Equal(length, read);
        Assert.All(destinations, d => Assert.Null(d.Failure));
        Assert.Equal(length, sinks[0].Length);
        Assert.Equal(length - 4096, sinks[2].Length);
        Assert.Equal(SyntheticStream.Sha256(length, 0), sinks[0].Hash());
        Assert.Equal(SyntheticStream.Sha256(length, 0), sinks[1].Hash());
        Assert.Equal(SyntheticStream.Sha256(length, 4096), sinks[2].Hash());
        // A few MiB of pooled segments and per-segment bookkeeping, not a fraction of the 768 MiB delivered.
        Assert.True(allocated < 32L * 1024 * 1024, $"the fan-out allocated {allocated / (1024 * 1024)} MiB for {3 * length / (1024 * 1024)} MiB delivered");
    }

    /// <summary>
    /// A large source made on the fly from a short random pattern of prime length (so chunk boundaries and pattern
    /// repeats never line up), so nothing proportional to its length is held.
    /// </summary>
    private sealed class SyntheticStream(long length) : Stream
    {
        private static readonly byte[] Pattern = MakePattern();
        private long _position;

        private static byte[] MakePattern()
        {
            var pattern = new byte[65_521];
            new Random(11).NextBytes(pattern);
            return pattern;
        }

        public static byte[] Sha256(long length, long from)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            for (var p = from; p < length;)
            {
                var n = (int)Math.Min(buffer.Length, length - p);
                Fill(buffer.AsSpan(0, n), p);
                hash.AppendData(buffer, 0, n);
                p += n;
            }

            return hash.GetHashAndReset();
        }

        private static void Fill(Span<byte> buffer, long position)
        {
            while (buffer.Length > 0)
            {
                var at = (int)(position % Pattern.Length);
                var n = Math.Min(buffer.Length, Pattern.Length - at);
                Pattern.AsSpan(at, n).CopyTo(buffer);
                buffer = buffer[n..];
                position += n;
            }
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            Fill(buffer[..n], _position);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A node that hashes what it receives instead of keeping it.</summary>
    private sealed class HashingSink : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public byte[] Hash() => _hash.GetHashAndReset();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            _length += buffer.Length;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
