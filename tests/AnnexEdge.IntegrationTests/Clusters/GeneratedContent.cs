using System.Net;
using System.Security.Cryptography;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// Large content made block by block from a seed, so hundreds of MiB can be uploaded, written or checked without
/// holding them in memory. Its key is what git-annex would give a ".bin" file of it (SHA256E).
/// </summary>
internal sealed class GeneratedContent
{
    public const int BlockSize = 1024 * 1024;

    private readonly byte[] _base = new byte[BlockSize];

    public GeneratedContent(long length, int seed)
    {
        Length = length;
        new Random(seed).NextBytes(_base);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = new byte[BlockSize];
        for (long i = 0; i * BlockSize < length; i++)
        {
            hash.AppendData(block, 0, Fill(block, i));
        }

        Sha256 = hash.GetHashAndReset();
        Key = TestObject.KeyFor(length, Sha256);
    }

    public long Length { get; }

    public byte[] Sha256 { get; }

    public string Key { get; }

    /// <summary>Writes the content; after each block, <paramref name="afterBlock"/> gets the bytes written so far.</summary>
    public async Task WriteToAsync(Stream stream, Func<long, Task>? afterBlock = null, CancellationToken ct = default)
    {
        var block = new byte[BlockSize];
        long written = 0;
        for (long i = 0; written < Length; i++)
        {
            var n = Fill(block, i);
            await stream.WriteAsync(block.AsMemory(0, n), ct);
            written += n;
            if (afterBlock is not null)
            {
                await afterBlock(written);
            }
        }
    }

    /// <summary>A request body that streams the content, calling <paramref name="afterBlock"/> as it goes.</summary>
    public HttpContent Body(Func<long, Task>? afterBlock = null) => new GeneratedBody(this, afterBlock);

    /// <summary>Block i: the seed's random block, stamped with its index so no two blocks are alike.</summary>
    private int Fill(byte[] block, long index)
    {
        _base.CopyTo(block, 0);
        BitConverter.TryWriteBytes(block, index);
        return (int)Math.Min(BlockSize, Length - index * BlockSize);
    }

    private sealed class GeneratedBody(GeneratedContent content, Func<long, Task>? afterBlock) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            content.WriteToAsync(stream, afterBlock);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            content.WriteToAsync(stream, afterBlock, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = content.Length;
            return true;
        }
    }
}
