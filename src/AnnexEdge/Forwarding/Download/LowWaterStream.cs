using System.Buffers;
using System.Net.Sockets;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// A backend connection as SocketsHttpHandler's ConnectCallback hands it over, which receives a content download's
/// body in batches: the socket's receive low-water mark (<c>SO_RCVLOWAT</c>) is set to what the backend still owes,
/// up to 128 KiB, so the kernel wakes the edge once per batch instead of for every few KiB the node writes (a wake
/// per 2 KiB was most of the edge's CPU per downloaded byte, bench/README.md). Every other answer, and every head,
/// is received as it comes, straight into the reader's buffer.
/// </summary>
internal sealed class LowWaterStream : Stream
{
    /// <summary>The most the edge waits to gather before handing bytes on; well under half the socket buffer.</summary>
    public const int Batch = 128 * 1024;

    /// <summary>How long a receive waits for its batch before taking what is there.</summary>
    public static readonly TimeSpan FallbackDelay = TimeSpan.FromMilliseconds(100);

    private const int BufferSize = 2 * Batch;

    private readonly Socket _socket;
    private readonly TimeProvider _time;
    private readonly AnswerFollower _answers = new();
    private byte[]? _buffer;
    private int _start;
    private int _end;
    private int _requests;
    private int _requestsSeen;
    private bool _receiving;
    private bool _lowWaterUnsupported = !OperatingSystem.IsLinux();
    private volatile int _lowWater = 1;

    public LowWaterStream(Socket socket, TimeProvider time)
    {
        _socket = socket;
        _time = time;
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>
    /// Hands on what a batch left buffered, or receives: a batch when a download's body is owed, otherwise whatever
    /// comes. A zero-byte read (SocketsHttpHandler's and YARP's wait for data) returns once something is there.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_start == _end)
        {
            FollowNewRequest();
            var owed = (int)Math.Min(_answers.Owed, Batch);
            if (owed <= 1 || _lowWaterUnsupported)
            {
                SetLowWater(1);
                var direct = await ReceiveAsync(destination, cancellationToken);
                Observe(destination.Span[..direct]);
                return direct;
            }

            var buffer = _buffer ??= ArrayPool<byte>.Shared.Rent(BufferSize);
            var read = await ReceiveBatchAsync(buffer, owed, cancellationToken);
            _start = 0;
            _end = read;
            Observe(buffer.AsSpan(0, read));
            if (read == 0)
            {
                return 0;
            }
        }

        var n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination.Span);
        _start += n;
        if (_start == _end && _buffer is { } drained)
        {
            // Idle connections hold no buffer.
            _buffer = null;
            ArrayPool<byte>.Shared.Return(drained);
        }

        return n;
    }

    private async ValueTask<int> ReceiveBatchAsync(byte[] buffer, int owed, CancellationToken cancellationToken)
    {
        SetLowWater(owed);
        var receive = ReceiveAsync(buffer.AsMemory(0, BufferSize), cancellationToken);
        if (receive.IsCompleted)
        {
            return await receive;
        }

        // A backend that sends less than it owes (or sends slowly) costs a short wait, never a hang: the mark only
        // ever goes down to one byte, which wakes the receive if anything is there and otherwise leaves it waiting
        // for the next byte, as any receive would.
        await using var fallback = _time.CreateTimer(
            static state => ((LowWaterStream)state!).SetLowWater(1), this, FallbackDelay, Timeout.InfiniteTimeSpan);
        return await receive;
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        _receiving = true;
        try
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        }
        finally
        {
            _receiving = false;
        }
    }

    /// <summary>After a request was written (a receive may have waited since before it), an answer's head comes next.</summary>
    private void FollowNewRequest()
    {
        var requests = Volatile.Read(ref _requests);
        if (requests != _requestsSeen)
        {
            _requestsSeen = requests;
            _answers.Request();
        }
    }

    private void Observe(ReadOnlySpan<byte> received)
    {
        FollowNewRequest();
        _answers.Received(received);
    }

    private void SetLowWater(int bytes)
    {
        // A batch's mark is set before its receive, never trusted from memory; only a mark of one byte, which the
        // fallback timer can but confirm, is remembered (a setsockopt per answer read saved).
        if (_lowWaterUnsupported || (bytes == 1 && _lowWater == 1))
        {
            return;
        }

        try
        {
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
            _lowWater = bytes;
        }
        catch (SocketException)
        {
            _lowWaterUnsupported = true;
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        // Only the reader follows the answers; it learns from this count that a new one is coming.
        Interlocked.Increment(ref _requests);
        while (!source.IsEmpty)
        {
            var sent = await _socket.SendAsync(source, SocketFlags.None, cancellationToken);
            source = source[sent..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _socket.Dispose();

            // A receive still under way may write into the buffer: then it is left to the collector.
            if (_buffer is { } buffer && !_receiving)
            {
                _buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        base.Dispose(disposing);
    }
}
