using AnnexEdge.Forwarding;

namespace AnnexEdge.Pipeline;

/// <summary>A read-through stream that counts bytes, for the request log.</summary>
internal sealed class ByteCountingStream(Stream inner) : BodyReadStream
{
    private long _delivered;

    public override long Delivered => _delivered;

    // A synchronous read stays the inner stream's own: Kestrel's request body refuses it unless AllowSynchronousIO.
    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        Counted(await inner.ReadAsync(destination, cancellationToken));

    private int Counted(int n)
    {
        _delivered += n;
        return n;
    }
}
