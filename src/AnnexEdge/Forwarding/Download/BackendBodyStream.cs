using System.Globalization;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// The body of a backend's response read off a <see cref="BackendConnection"/>: de-chunked, or bounded by its
/// Content-Length, or up to the end of the connection. When a length was announced it ends with exactly that many
/// bytes or with an <see cref="IOException"/>, so a short or long body never looks complete. At the end of a
/// complete body the connection goes back to the pool; otherwise it is closed.
/// </summary>
internal sealed class BackendBodyStream : BodyReadStream
{
    private const int MaxChunkLine = 1024;

    private readonly BackendConnectionPool _pool;
    private readonly bool _chunked;
    private readonly bool _keepAlive;
    private BackendConnection? _connection;
    private Phase _phase;
    private long _remaining;
    private long _delivered;

    private readonly TimeSpan _stallTimeout;

    /// <param name="stallTimeout">How long the body may wait for a byte before the backend counts as stalled.</param>
    public BackendBodyStream(BackendConnection connection, BackendConnectionPool pool, ResponseHead head, long? announced, TimeSpan stallTimeout)
    {
        _connection = connection;
        _pool = pool;
        _stallTimeout = stallTimeout;
        _chunked = head.Chunked;
        _keepAlive = head.KeepAlive;
        Announced = announced;
        if (head.HasNoBody || head.ContentLength == 0)
        {
            _phase = Phase.Done;
        }
        else if (head.Chunked)
        {
            _phase = Phase.ChunkSize;
        }
        else
        {
            _phase = Phase.Data;
            _remaining = head.ContentLength >= 0 ? head.ContentLength : long.MaxValue;
        }
    }

    private enum Phase
    {
        ChunkSize,
        Data,
        ChunkEnd,
        Trailer,
        Done,
    }

    /// <summary>The body length the stream holds the backend to, if known.</summary>
    public long? Announced { get; }

    public override long Delivered => _delivered;

    /// <summary>
    /// Whether the body failed because its connection broke, closed early or stalled, rather than because the
    /// backend said something wrong: only such a body may be asked for again from the byte reached. A body the
    /// backend ended short of its data length is not cut but invalid (p2phttp's word for content that changed
    /// while it was sent).
    /// </summary>
    public bool Cut { get; private set; }


    /// <summary>
    /// Copies whatever is buffered, across chunk boundaries, and waits for a batch only when nothing was copied.
    /// A zero-byte read (YARP's copier waits with one) returns once there is something to copy.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var copied = 0;
        while (true)
        {
            if (_connection is not { } connection || _phase == Phase.Done)
            {
                await FinishIfDoneAsync();
                return copied;
            }

            if (_phase == Phase.Data)
            {
                if (connection.Buffered > 0)
                {
                    if (copied == destination.Length)
                    {
                        return await SettleAsync(connection, copied);
                    }

                    var n = (int)Math.Min(Math.Min(destination.Length - copied, connection.Buffered), _remaining);
                    connection.Data[..n].CopyTo(destination.Span[copied..]);
                    connection.Consume(n);
                    copied += n;
                    _delivered += n;

                    // A body that runs to the close keeps its unbounded mark: the close is its end, not a truncation.
                    if (_remaining != long.MaxValue)
                    {
                        _remaining -= n;
                    }

                    if (Announced is { } announced && Delivered > announced)
                    {
                        throw Fail($"the backend sent more than the {announced} bytes it announced");
                    }

                    if (_remaining == 0)
                    {
                        _phase = _chunked ? Phase.ChunkEnd : Phase.Done;
                    }

                    continue;
                }

                if (copied > 0)
                {
                    return await SettleAsync(connection, copied);
                }

                var (wanted, guaranteed) = SafeWait(connection);
                if (!await FillAsync(connection, wanted, guaranteed, cancellationToken))
                {
                    if (_remaining != long.MaxValue)
                    {
                        throw Fail("the backend closed the connection before the end of the body", cut: true);
                    }

                    // Framed by the end of the connection: this is the end.
                    _phase = Phase.Done;
                }

                continue;
            }

            if (!TryParseFraming(connection))
            {
                if (copied > 0)
                {
                    return copied;
                }

                if (!await FillAsync(connection, 1, 1, cancellationToken))
                {
                    throw Fail("the backend closed the connection inside the chunked framing", cut: true);
                }
            }
        }
    }

    private async ValueTask<bool> FillAsync(BackendConnection connection, int wanted, int guaranteed, CancellationToken cancellationToken)
    {
        try
        {
            return await connection.FillAsync(wanted, guaranteed, _stallTimeout, cancellationToken);
        }
        catch (IOException e)
        {
            throw Fail(e.Message, cut: true, e);
        }
    }

    /// <summary>
    /// Reads the framing that is already buffered after the data just copied, so a body whose last byte was read
    /// is complete (and its connection pooled) even if the reader never asks again.
    /// </summary>
    private async ValueTask<int> SettleAsync(BackendConnection connection, int copied)
    {
        while (_phase is Phase.ChunkEnd or Phase.ChunkSize or Phase.Trailer && TryParseFraming(connection))
        {
        }

        await FinishIfDoneAsync();
        return copied;
    }

    /// <summary>
    /// How much to wait for, and how much of that the framing guarantees. Chunked, only the rest of the current
    /// chunk is certain; the announced data length is what an honest backend still owes, so the edge batches on it,
    /// and the connection falls back to the certain figure if that much does not come (a backend that ends the body
    /// short of its announcement and keeps the connection must fail at its terminating chunk, not at the activity
    /// timeout). Buffered bytes may include framing, so subtracting them only lowers the figures.
    /// </summary>
    private (int Wanted, int Guaranteed) SafeWait(BackendConnection connection)
    {
        if (_remaining == long.MaxValue)
        {
            return (1, 1);
        }

        var guaranteed = (int)Math.Clamp(_remaining - connection.Buffered, 1, BackendConnection.Batch);
        if (_chunked && Announced is { } announced)
        {
            return ((int)Math.Clamp(announced - Delivered - connection.Buffered, guaranteed, BackendConnection.Batch), guaranteed);
        }

        return (guaranteed, guaranteed);
    }

    private bool TryParseFraming(BackendConnection connection)
    {
        var data = connection.Data;
        var eol = data.IndexOf("\r\n"u8);
        if (eol < 0)
        {
            if (data.Length > MaxChunkLine)
            {
                throw Fail("the backend sent an overlong chunk line");
            }

            return false;
        }

        var line = data[..eol];
        switch (_phase)
        {
            case Phase.ChunkSize:
                var semicolon = line.IndexOf((byte)';');
                var digits = semicolon >= 0 ? line[..semicolon] : line;
                digits = digits.TrimEnd((byte)' ');
                if (digits.IsEmpty || digits.Length > 15
                    || !long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
                {
                    throw Fail("the backend sent a malformed chunk size");
                }

                connection.Consume(eol + 2);
                if (size == 0)
                {
                    _phase = Phase.Trailer;
                }
                else
                {
                    _remaining = size;
                    _phase = Phase.Data;
                }

                return true;
            case Phase.ChunkEnd:
                if (eol != 0)
                {
                    throw Fail("the backend's chunk is longer than its size");
                }

                connection.Consume(2);
                _phase = Phase.ChunkSize;
                return true;
            default:
                // Trailer fields are dropped; the blank line ends the body.
                connection.Consume(eol + 2);
                if (eol == 0)
                {
                    _phase = Phase.Done;
                }

                return true;
        }
    }

    private async ValueTask FinishIfDoneAsync()
    {
        if (_phase != Phase.Done || _connection is not { } connection)
        {
            return;
        }

        if (Announced is { } announced && Delivered != announced)
        {
            throw Fail($"the backend ended the body after {Delivered} of the {announced} bytes it announced");
        }

        _connection = null;
        if (_keepAlive && connection.Buffered == 0)
        {
            _pool.Return(connection);
        }
        else
        {
            await connection.DisposeAsync();
        }
    }

    private IOException Fail(string message, bool cut = false, Exception? inner = null)
    {
        Cut = cut;
        if (_connection is { } connection)
        {
            _connection = null;
            _ = connection.DisposeAsync().AsTask();
        }

        _phase = Phase.Done;
        return new IOException(message, inner);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _connection is { } connection)
        {
            // Not read to the end: the rest of the body is still on the wire, so the connection cannot be reused.
            _connection = null;
            connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
