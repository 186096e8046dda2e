using AnnexEdge.Clusters;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Clusters;

public sealed class FanOutCopierTests
{
    private static readonly TimeSpan LongStall = TimeSpan.FromSeconds(30);

    // A clock that never moves, for the tests that are not about a timer: none fires, however slow the machine.
    private static readonly TimeProvider Still = new FakeTimeProvider();

    private static byte[] Data(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Reads a destination's body as an HTTP client would send it, into memory.</summary>
    private static async Task<byte[]> ReadAllAsync(FanOutDestination destination)
    {
        using var sink = new MemoryStream();
        await destination.Content.CopyToAsync(sink, TestContext.Current.CancellationToken);
        return sink.ToArray();
    }

    private static CancellationTokenSource Deadline()
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        // A guard against a hang, not a timing: loose enough for a loaded machine.
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        return cts;
    }

    /// <summary>Returns once <paramref name="condition"/> holds (checked every few milliseconds), or fails at the deadline.</summary>
    private static async Task UntilAsync(Func<bool> condition, CancellationToken deadline)
    {
        while (!condition())
        {
            await Task.Delay(5, deadline);
        }
    }

    [Fact]
    public async Task Every_destination_gets_exactly_the_bytes_from_its_own_skip_on()
    {
        var ct = TestContext.Current.CancellationToken;
        foreach (var length in new[] { 0, 1, 65_535, 65_536, 65_537, 3 * 1024 * 1024 + 17 })
        {
            var data = Data(length, length);
            long[] skips = [0, 1, 65_535, 65_536, 65_537, length / 2, length - 1, length];
            var destinations = skips.Where(s => s >= 0 && s <= length).Distinct()
                .Select(s => new FanOutDestination("d" + s, s, Still)).ToArray();
            var readers = destinations.Select(ReadAllAsync).ToArray();

            // Irregular read sizes from the source, as a network body gives them.
            var read = await FanOutCopier.CopyAsync(new ChoppyStream(data, seed: length), destinations, LongStall, Still, ct);
            var received = await Task.WhenAll(readers);

            Assert.Equal(length, read);
            for (var i = 0; i < destinations.Length; i++)
            {
                Assert.Null(destinations[i].Failure);
                Assert.True(
                    data.AsSpan((int)destinations[i].Skip).SequenceEqual(received[i]),
                    $"length {length}, skip {destinations[i].Skip}: got {received[i].Length} bytes, not the expected tail");
            }
        }
    }

    [Fact]
    public async Task A_destination_whose_reader_fails_midway_is_dropped_and_the_others_get_everything()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Data(5 * 1024 * 1024, 1);
        var healthy = new[] { new FanOutDestination("a", 0, Still), new FanOutDestination("c", 1000, Still) };
        var failing = new FanOutDestination("b", 0, Still);
        var readers = healthy.Select(ReadAllAsync).ToArray();
        var failingReader = failing.Content.CopyToAsync(new FailingStream(failAfter: 2 * 1024 * 1024), ct);

        var read = await FanOutCopier.CopyAsync(new ChoppyStream(data, 1), [healthy[0], failing, healthy[1]], LongStall, Still, ct);

        Assert.Equal(data.Length, read);
        await Assert.ThrowsAsync<HttpRequestException>(() => failingReader);
        Assert.NotNull(failing.Failure);
        var received = await Task.WhenAll(readers);
        Assert.True(data.AsSpan().SequenceEqual(received[0]));
        Assert.True(data.AsSpan(1000).SequenceEqual(received[1]));
        Assert.All(healthy, d => Assert.Null(d.Failure));
    }

    [Fact]
    public async Task A_stalled_destination_is_dropped_when_the_stall_timeout_passes_on_the_edges_clock_while_the_others_complete()
    {
        using var deadline = Deadline();
        var time = new FakeTimeProvider();
        var stallTimeout = TimeSpan.FromMinutes(5);
        var data = Data(4 * 1024 * 1024, 2);
        var stalled = new FanOutDestination("b", 0, time);
        var healthy = new FanOutDestination("a", 0, time);
        var reader = ReadAllAsync(healthy);

        // Nobody ever reads "b": it takes 4 segments into its queue, and the copy waits to queue the 5th with b's stall
        // timer armed ("b" comes first, so it is armed once "a" has the 5th).
        var copy = FanOutCopier.CopyAsync(new ChoppyStream(data, 2), [stalled, healthy], stallTimeout, time, deadline.Token);
        await UntilAsync(() => healthy.Sent == 5 * FanOutSegment.Size, deadline.Token);
        time.Advance(stallTimeout);

        // Dropped once, not waited for at every segment: the clock moves on only this once.
        var read = await copy.WaitAsync(deadline.Token);
        Assert.Equal(data.Length, read);
        Assert.IsType<TimeoutException>(stalled.Failure);
        Assert.Null(healthy.Failure);
        var received = await reader.WaitAsync(deadline.Token);
        Assert.True(data.AsSpan().SequenceEqual(received));
    }

    [Fact]
    public async Task A_destination_that_starts_reading_late_but_before_the_stall_timeout_passes_on_the_edges_clock_is_kept()
    {
        using var deadline = Deadline();
        var time = new FakeTimeProvider();
        var stallTimeout = TimeSpan.FromMinutes(5);
        var data = Data(4 * 1024 * 1024, 5);
        var late = new FanOutDestination("b", 0, time);
        var prompt = new FanOutDestination("a", 0, time);
        var promptReader = ReadAllAsync(prompt);

        // The copy waits to queue a 5th segment for "b" with its stall timer armed, as above.
        var copy = FanOutCopier.CopyAsync(new ChoppyStream(data, 5), [late, prompt], stallTimeout, time, deadline.Token);
        await UntilAsync(() => prompt.Sent == 5 * FanOutSegment.Size, deadline.Token);
        time.Advance(stallTimeout - TimeSpan.FromTicks(1));
        var lateReader = ReadAllAsync(late);

        await copy.WaitAsync(deadline.Token);
        Assert.Null(late.Failure);
        var received = await Task.WhenAll(promptReader, lateReader).WaitAsync(deadline.Token);
        Assert.True(data.AsSpan().SequenceEqual(received[0]));
        Assert.True(data.AsSpan().SequenceEqual(received[1]));
    }

    [Fact]
    public async Task A_source_failure_fails_every_destination()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Data(3 * 1024 * 1024, 3);
        var destinations = new[]
        {
            new FanOutDestination("a", 0, Still), new FanOutDestination("b", 500_000, Still), new FanOutDestination("c", 0, Still),
        };
        var readers = destinations.Select(ReadAllAsync).ToArray();

        await Assert.ThrowsAsync<IOException>(
            () => FanOutCopier.CopyAsync(new ChoppyStream(data, 3, failAt: 2 * 1024 * 1024), destinations, LongStall, Still, ct));

        Assert.All(destinations, d => Assert.IsType<IOException>(d.Failure));
        // No destination sees a clean end of body, so no node can take the partial object for a whole one.
        foreach (var reader in readers)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => reader);
        }
    }

    [Fact]
    public async Task Every_destination_failing_stops_reading_the_source()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Data(8 * 1024 * 1024, 4);
        var destinations = new[] { new FanOutDestination("a", 0, Still), new FanOutDestination("b", 0, Still) };
        var readers = destinations.Select(d => d.Content.CopyToAsync(new FailingStream(failAfter: 100_000), ct)).ToArray();

        var read = await FanOutCopier.CopyAsync(new ChoppyStream(data, 4), destinations, LongStall, Still, ct);

        Assert.All(destinations, d => Assert.NotNull(d.Failure));
        Assert.True(read < data.Length, $"read {read} of {data.Length} bytes although no destination wanted them");
        foreach (var reader in readers)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => reader);
        }
    }

    [Fact]
    public async Task A_destination_that_is_dropped_aborts_its_nodes_request()
    {
        using var destination = new FanOutDestination("a", 0, Still, TimeSpan.FromSeconds(30));
        Assert.False(destination.Aborted.IsCancellationRequested);

        destination.Fail(new IOException("node a stopped reading"));

        Assert.True(destination.Aborted.IsCancellationRequested);
        // Its body fails with the reason (wrapped by HttpContent), so the node never takes a cut body for whole.
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAllAsync(destination));
        Assert.IsType<IOException>(e.InnerException);
    }

    [Fact]
    public async Task A_node_that_has_every_byte_but_no_answer_is_aborted_not_failed_when_the_answer_timeout_passes_on_the_edges_clock()
    {
        using var deadline = Deadline();
        var time = new FakeTimeProvider();
        var answerTimeout = TimeSpan.FromMinutes(1);
        using var destination = new FanOutDestination("a", 0, time, answerTimeout);
        var data = Data(100_000, 3);
        var reader = ReadAllAsync(destination);

        await FanOutCopier.CopyAsync(new MemoryStream(data), [destination], LongStall, time, deadline.Token);
        // Its body is all sent: the answer timer is armed.
        Assert.Equal(data, await reader.WaitAsync(deadline.Token));

        // The clock's timers fire within Advance, so what they cancel is cancelled when it returns.
        time.Advance(answerTimeout - TimeSpan.FromTicks(1));
        Assert.False(destination.Aborted.IsCancellationRequested, "aborted before the answer timeout");
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(destination.Aborted.IsCancellationRequested, "not aborted when the answer timeout passed");
        Assert.Null(destination.Failure);
    }

    /// <summary>A source that returns its data in irregular pieces, and can fail at a given position.</summary>
    private sealed class ChoppyStream(byte[] data, int seed, long failAt = -1) : Stream
    {
        private readonly Random _random = new(seed);
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (failAt >= 0 && _position >= failAt)
            {
                throw new IOException("the client went away");
            }

            var n = Math.Min(Math.Min(buffer.Length, data.Length - _position), _random.Next(1, 100_000));
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_random.Next(4) == 0)
            {
                await Task.Yield();
            }

            return Read(buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A node's connection that breaks after some bytes.</summary>
    private sealed class FailingStream(long failAfter) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _written += buffer.Length;
            if (_written > failAfter)
            {
                throw new IOException("connection reset by node");
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
