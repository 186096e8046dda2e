using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace AnnexEdge.Hosting;

/// <summary>
/// Kestrel's connection buffers in 64 KiB blocks instead of its default 4 KiB. Kestrel receives into the free part
/// of the current block, so with 4 KiB blocks an upload arrived in pieces of about 2 KiB, each a system call, a wake
/// and a separate write towards the node: most of the edge's CPU per uploaded byte (bench/README.md).
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    /// <summary>Free blocks kept for reuse across all of Kestrel's pools (16 MiB); more are left to the GC.</summary>
    private const int MaxRetained = 256;

    private readonly ConcurrentStack<byte[]> _free = new();

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool(this);

    private byte[] RentBlock() =>
        _free.TryPop(out var block) ? block : GC.AllocateUninitializedArray<byte>(Pool.BlockSize, pinned: true);

    private void ReturnBlock(byte[] block)
    {
        if (_free.Count < MaxRetained)
        {
            _free.Push(block);
        }
    }

    private sealed class Pool(LargeBlockMemoryPoolFactory owner) : MemoryPool<byte>
    {
        public const int BlockSize = 64 * 1024;

        public override int MaxBufferSize => BlockSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            if (minBufferSize > BlockSize)
            {
                // Pipes never ask for more than MaxBufferSize; anyone else gets a plain array.
                return new Block(null, new byte[minBufferSize]);
            }

            return new Block(owner, owner.RentBlock());
        }

        protected override void Dispose(bool disposing)
        {
        }
    }

    private sealed class Block(LargeBlockMemoryPoolFactory? owner, byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } array)
            {
                owner?.ReturnBlock(array);
            }
        }
    }
}
