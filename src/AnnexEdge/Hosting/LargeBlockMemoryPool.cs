using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace AnnexEdge.Hosting;

/// <summary>
/// Kestrel's connection buffers in 64 KiB blocks instead of its default 4 KiB. Kestrel receives into the free part
/// of the current block, so with 4 KiB blocks an upload arrived in pieces of about 2 KiB, each a system call, a wake
/// and a separate write towards the node: most of the edge's CPU per uploaded byte (bench/README.md).
/// </summary>
/// <remarks>
/// A connection holds its block while part of a request waits in it unread, so clients that
/// trickle their headers (or send what nobody reads yet) would each hold 64 KiB, 640 MiB at 10,000 connections once
/// committed (the GC counts a pinned block whole against a container's heap limit: 4,000 slow-header connections
/// made an edge with a 256 MiB heap limit fail with OutOfMemoryException, bench/slow-headers.sh). So only so many
/// large blocks are lent at once: an eighth of the memory the GC may use (16 to 128 MiB); beyond that Kestrel gets
/// 4 KiB blocks, as from its own pool. Transfers hold a few blocks each for moments and stay far below it.
/// Some idle connections hold one too (about one in ten): .NET ends Kestrel's zero-byte wait for data on a readiness
/// event without looking, and an event that arrives after its data was read (a client's TLS Finished and first request
/// in two segments) ends the next wait with nothing to read; Kestrel then receives into a block and waits there
/// (strace and a heap dump, bench/README.md "Idle scale", session 19). Most of such a block is never written, so it
/// costs its size in heap but less resident memory. 32 KiB blocks would halve it but cost uploads CPU, and were not
/// adopted. <c>annexedge_connection_buffer_bytes</c> shows what is lent.
/// </remarks>
internal sealed class LargeBlockMemoryPoolFactory(int maxLent) : IMemoryPoolFactory<byte>
{
    public const int BlockSize = 64 * 1024;
    public const int SmallBlockSize = 4 * 1024;

    /// <summary>Free blocks kept for reuse across all of Kestrel's pools (16 MiB); more are left to the GC.</summary>
    private const int MaxRetained = 256;

    private readonly ConcurrentStack<byte[]> _free = new();
    private int _lent;
    private long _rented;

    public LargeBlockMemoryPoolFactory()
        : this((int)Math.Clamp(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8 / BlockSize, MaxRetained, 2048))
    {
    }

    /// <summary>Large blocks lent out now.</summary>
    public int Lent => Volatile.Read(ref _lent);

    /// <summary>Large blocks kept free for reuse now.</summary>
    public int Free => _free.Count;

    /// <summary>Blocks rented since start, large and small: connections move data through them, a request at least one.</summary>
    public long Rented => Interlocked.Read(ref _rented);

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool(this);

    private Block RentBlock(int minBufferSize)
    {
        Interlocked.Increment(ref _rented);
        if (Interlocked.Increment(ref _lent) > maxLent)
        {
            Interlocked.Decrement(ref _lent);
            return new Block(this, ArrayPool<byte>.Shared.Rent(Math.Max(minBufferSize, SmallBlockSize)), BlockKind.Small);
        }

        var block = _free.TryPop(out var free) ? free : GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        return new Block(this, block, BlockKind.Large);
    }

    private void ReturnBlock(byte[] block, BlockKind kind)
    {
        if (kind == BlockKind.Small)
        {
            ArrayPool<byte>.Shared.Return(block);
            return;
        }

        Interlocked.Decrement(ref _lent);
        if (_free.Count < MaxRetained)
        {
            _free.Push(block);
        }
    }

    private enum BlockKind
    {
        Large,
        Small,
        Unpooled,
    }

    private sealed class Pool(LargeBlockMemoryPoolFactory owner) : MemoryPool<byte>
    {
        public override int MaxBufferSize => BlockSize;

        // Pipes never ask for more than MaxBufferSize; anyone else gets a plain array.
        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) =>
            minBufferSize > BlockSize ? new Block(null, new byte[minBufferSize], BlockKind.Unpooled) : owner.RentBlock(minBufferSize);

        protected override void Dispose(bool disposing)
        {
        }
    }

    private sealed class Block(LargeBlockMemoryPoolFactory? owner, byte[] array, BlockKind kind) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } array)
            {
                owner?.ReturnBlock(array, kind);
            }
        }
    }
}
