namespace AnnexEdge.Forwarding;

/// <summary>
/// Wraps the response body of a content download. It counts the bytes sent and, once the backend announced
/// <c>X-git-annex-data-length</c>, refuses to send more than that; after the copy the caller compares the count
/// with the announcement, so a backend that lies about the length never yields a body that looks complete.
/// </summary>
internal sealed class DataLengthGuardStream(Stream inner) : Stream
{
    /// <summary>The length the backend announced, if any.</summary>
    public long? Expected { get; set; }

    public long Written { get; private set; }

    /// <summary>True when a length was announced and a different amount was sent.</summary>
    public bool Mismatch => Expected is { } expected && Written != expected;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Expected is { } expected && Written + buffer.Length > expected)
        {
            Written += buffer.Length;
            throw new IOException($"backend sent more than the {expected} bytes it announced in X-git-annex-data-length");
        }

        Written += buffer.Length;
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
