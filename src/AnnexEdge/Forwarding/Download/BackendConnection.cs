using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// One HTTP/1.1 connection to a backend, with a receive buffer that is filled in large batches: the socket's
/// receive low-water mark makes the kernel wake the edge only once a batch has arrived, instead of for every few
/// KiB the node writes. A wake per 2 KiB was most of the edge's CPU per downloaded byte (bench/README.md).
/// </summary>
internal sealed class BackendConnection : IAsyncDisposable
{
    public const int BufferSize = 256 * 1024;

    /// <summary>The most the edge waits to gather before handing bytes on; well under half the socket buffer.</summary>
    public const int Batch = 128 * 1024;

    /// <summary>How long a receive waits for an expected but not certain batch before taking what is there.</summary>
    public static readonly TimeSpan FallbackDelay = TimeSpan.FromMilliseconds(100);

    private readonly Socket _socket;
    private readonly TimeProvider _time;
    private bool _fellBack;
    private CancellationTokenSource? _speculative;
    private bool _lowWaterUnsupported = !OperatingSystem.IsLinux();
    private byte[]? _buffer;
    private long _received;
    private long _seen;
    private volatile bool _stalled;

    public BackendConnection(Socket socket, Stream stream, string endpoint, TimeProvider time)
    {
        _socket = socket;
        _time = time;
        Stream = stream;
        Endpoint = endpoint;

        // Under TLS the socket carries records that SslStream may hold half-read, so a plaintext count is no safe
        // low-water mark.
        _lowWaterUnsupported |= stream is SslStream;
    }

    public Stream Stream { get; }

    /// <summary>scheme://host:port, the pool's key.</summary>
    public string Endpoint { get; }

    public long IdleSince { get; set; }

    /// <summary>Whether the connection has served a response before (a stale one may be closed by the server).</summary>
    public bool Reused { get; set; }

    public int Start { get; private set; }

    public int End { get; private set; }

    public int Buffered => End - Start;

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(Start, End - Start);

    public void Consume(int count) => Start += count;

    /// <summary>Takes a receive buffer for a response; given back by <see cref="ReleaseBuffer"/> when idle.</summary>
    public void RentBuffer() => _buffer ??= ArrayPool<byte>.Shared.Rent(BufferSize);

    public void ReleaseBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            Start = End = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Receives until at least <paramref name="wanted"/> bytes are buffered (capped by the space left), waking only
    /// when that much has arrived. <paramref name="guaranteed"/> is what the backend is certain to send; a wait for
    /// more than that falls back to it after <see cref="FallbackDelay"/>, so a backend that sends less than
    /// expected costs a short delay, never a wait that outlasts the response. Returns false at the end of the
    /// connection (once this fill's bytes are handed on). A backend from which no byte arrives for
    /// <paramref name="stallTimeout"/> has stalled: the connection is shut down and <see cref="BackendStalledException"/>
    /// thrown, or, if this fill took bytes in before the stall, thrown by the next fill once they are handed on, so the
    /// body is asked for again after them.
    /// </summary>
    public async ValueTask<bool> FillAsync(int wanted, int guaranteed, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        if (_stalled)
        {
            // The last fill found the stall and returned what it had taken in.
            throw new BackendStalledException(Endpoint, stallTimeout, null);
        }

        var buffer = _buffer ?? throw new InvalidOperationException("no receive buffer");
        if (Start == End)
        {
            Start = End = 0;
        }
        else if (buffer.Length - End < Batch && Start > 0)
        {
            buffer.AsSpan(Start, End - Start).CopyTo(buffer);
            End -= Start;
            Start = 0;
        }

        // The stall check compares with what had come when the timer was armed, which may already be queued under
        // the mark or taken in by an earlier receive of this fill: a stall then finds this fill holding bytes.
        var before = Buffered;
        _fellBack = false;
        var target = Buffered + Math.Clamp(wanted, 1, buffer.Length - End);
        var certain = Buffered + Math.Clamp(guaranteed, 1, buffer.Length - End);
        if (_lowWaterUnsupported)
        {
            // Without a mark the kernel cannot be asked to wait, so neither can the edge, beyond what is certain.
            target = Math.Min(target, certain);
        }

        ITimer? stall = null;
        try
        {
            do
            {
                // Set before every receive, never remembered: a fallback may have lowered the mark, and trusting a
                // remembered one could leave a wait for one byte under a higher mark, which hangs. A setsockopt costs
                // ~0.5 µs against a receive per batch of up to 128 KiB.
                var lowWater = Math.Min(target - Buffered, Batch);
                SetLowWater(lowWater);

                // Once every certain byte is buffered (an earlier receive of this fill took what had come, short of the
                // mark), waiting for more is speculative: the fallback must end that wait, not only lower the mark, which
                // wakes nobody when nothing more comes (a stalled node, a body's end), and the buffered bytes would be held.
                using var speculative = Buffered >= certain ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
                var receive = Stream.ReadAsync(buffer.AsMemory(End), speculative?.Token ?? cancellationToken);
                if (stall is null && !receive.IsCompleted && stallTimeout != Timeout.InfiniteTimeSpan)
                {
                    // Armed only for a receive that has to wait: most are complete at once and cost no timer.
                    _seen = Seen();
                    stall = _time.CreateTimer(static state => ((BackendConnection)state!).CheckStall(), this, stallTimeout, stallTimeout);
                }

                int read;
                if (!receive.IsCompleted && Buffered + lowWater > certain)
                {
                    // Lowering the mark wakes the pending receive if what is queued now satisfies it.
                    _speculative = speculative;
                    var fallback = _time.CreateTimer(
                        static state => ((BackendConnection)state!).LowerLowWater(), this, FallbackDelay, Timeout.InfiniteTimeSpan);
                    try
                    {
                        read = await receive;
                    }
                    catch (OperationCanceledException) when (speculative is not null && !cancellationToken.IsCancellationRequested)
                    {
                        // Ended by the fallback: hand on what is buffered.
                        read = -1;
                    }
                    finally
                    {
                        // Waits for a running callback, so none can change the mark after this.
                        await fallback.DisposeAsync();
                        _speculative = null;
                    }

                    if (read < 0)
                    {
                        return true;
                    }
                }
                else
                {
                    read = await receive;
                }

                if (read == 0)
                {
                    if (!_stalled)
                    {
                        // The end of the connection: bytes this fill took in before it are handed on first (a cut
                        // body is then asked for again after them); the next fill meets the end again and says so.
                        return Buffered > before;
                    }

                    return Buffered > before ? true : throw new BackendStalledException(Endpoint, stallTimeout, null);
                }

                End += read;
                Volatile.Write(ref _received, _received + read);
            }
            while (Buffered < target && !Volatile.Read(ref _fellBack));
        }
        catch (Exception e) when (_stalled && e is IOException and not BackendStalledException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return Buffered > before ? true : throw new BackendStalledException(Endpoint, stallTimeout, e);
        }
        finally
        {
            if (stall is not null)
            {
                // Waits for a running check, so none can shut the connection down after this fill.
                await stall.DisposeAsync();
            }
        }

        return true;
    }

    /// <summary>
    /// Called from a timer every stall timeout while a fill waits. Bytes that came since the last check (taken in, or
    /// queued under the low-water mark) are progress, not a stall: the fill ends with them, so a backend that
    /// trickles slower than a batch per stall timeout is still read. Nothing at all since the last check is a stall:
    /// shutting the connection down wakes the receive, which then throws.
    /// </summary>
    private void CheckStall()
    {
        var seen = Seen();
        if (seen > _seen)
        {
            _seen = seen;
            LowerLowWater();
            return;
        }

        _stalled = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Bytes taken in plus bytes queued in the kernel: grows with every byte the backend sends.</summary>
    private long Seen()
    {
        try
        {
            return Volatile.Read(ref _received) + _socket.Available;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Called from a timer while a receive waits: only ever lowers the mark, so a late call costs batching, never a
    /// hang.
    /// </summary>
    private void LowerLowWater()
    {
        try
        {
            // What came is all there is for now: the fill ends with it rather than waiting again.
            Volatile.Write(ref _fellBack, true);
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, 1);
            _speculative?.Cancel();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private void SetLowWater(int bytes)
    {
        if (_lowWaterUnsupported)
        {
            return;
        }

        try
        {
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
        }
        catch (SocketException)
        {
            _lowWaterUnsupported = true;
        }
    }

    /// <summary>Whether an idle connection can carry another request: nothing unread and not closed by the server.</summary>
    public bool LooksReusable()
    {
        // The last response may have left a higher mark, under which a few stray bytes would not show.
        SetLowWater(1);
        try
        {
            return !_socket.Poll(0, SelectMode.SelectRead) && _socket.Connected;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseBuffer();
        await Stream.DisposeAsync();
        _socket.Dispose();
    }

    public static async Task<BackendConnection> ConnectAsync(
        Uri uri, string endpoint, TimeSpan connectTimeout, bool acceptAnyCertificate, TimeProvider time, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var expiry = new CancellationTokenSource(connectTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
        try
        {
            await socket.ConnectAsync(uri.IdnHost, uri.Port, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            var error = e is SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain }
                ? HttpRequestError.NameResolutionError
                : HttpRequestError.ConnectionError;
            throw new HttpRequestException(error, $"cannot connect to {endpoint}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Stream stream = new NetworkStream(socket, ownsSocket: false);
        if (uri.Scheme == Uri.UriSchemeHttps)
        {
            var tls = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = uri.IdnHost,
                        ApplicationProtocols = [SslApplicationProtocol.Http11],
                        // The operator's explicit choice (Forwarding:DangerousAcceptAnyBackendCertificate), as for YARP's clients.
#pragma warning disable CA5359
                        RemoteCertificateValidationCallback = acceptAnyCertificate ? (_, _, _, _) => true : null,
#pragma warning restore CA5359
                    },
                    timeout.Token);
            }
            catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException
                or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                await tls.DisposeAsync();
                socket.Dispose();
                throw new HttpRequestException(HttpRequestError.SecureConnectionError, $"TLS with {endpoint} failed: {e.Message}", e);
            }

            stream = tls;
        }

        return new BackendConnection(socket, stream, endpoint, time);
    }
}

/// <summary>No byte came from the backend for the stall timeout while the edge waited for one.</summary>
internal sealed class BackendStalledException(string endpoint, TimeSpan stallTimeout, Exception? inner)
    : IOException($"{endpoint} sent nothing for {stallTimeout.TotalSeconds:0.#} s", inner);
