namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// The body of a key download that outlives a cut: when the backend's connection breaks, closes early or stalls
/// after some of the body came, the backend is asked again for the rest (<c>offset</c> = the byte reached) and its
/// answer continues the same body. git-annex 10.20250416's p2phttp now and then stops a GET a few KiB short of its
/// end and sends nothing more, and answers a GET from the byte reached at once (bench/README.md); without this the
/// client would wait for <c>Forwarding:ActivityTimeout</c> and then get a cut connection. A continuation is itself
/// continued only if it brought bytes, so a backend that cannot continue ends the download instead of looping.
/// </summary>
internal sealed class ResumingBodyStream(BackendBodyStream first, long total, ResumingBodyStream.Continue resume) : BodyReadStream
{
    /// <summary>Asks the backend for the rest: the last <paramref name="remaining"/> bytes of the body, from <paramref name="delivered"/> on.</summary>
    /// <exception cref="IOException">The backend could not be asked, or did not answer with exactly the rest.</exception>
    public delegate ValueTask<BackendBodyStream> Continue(long delivered, long remaining, string reason, CancellationToken cancellationToken);

    private BackendBodyStream _body = first;
    private long _deliveredBefore;
    private bool _continued;

    public override long Delivered => _deliveredBefore + _body.Delivered;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                return await _body.ReadAsync(destination, cancellationToken);
            }
            catch (IOException e) when (!cancellationToken.IsCancellationRequested)
            {
                if (_body.Cut && Delivered == total)
                {
                    // Every byte of the data length came, only the end of the framing did not: the body is whole.
                    await _body.DisposeAsync();
                    return 0;
                }

                // The backend's first answer may be continued even if it was cut before its first byte; a continuation
                // only if it brought some bytes, so a backend that cannot continue ends the download.
                if (!_body.Cut || (_body.Delivered == 0 && _continued))
                {
                    if (_continued)
                    {
                        throw new IOException($"{e.Message}, in the answer that was to bring the last {total - _deliveredBefore} bytes", e);
                    }

                    throw;
                }

                var delivered = Delivered;
                await _body.DisposeAsync();
                _deliveredBefore = delivered;
                _continued = true;
                _body = await resume(delivered, total - delivered, e.Message, cancellationToken);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _body.DisposeAsync();
        await base.DisposeAsync();
    }
}
