using System.Buffers;
using System.Net;
using System.Threading.Channels;

namespace AnnexEdge.Clusters;

/// <summary>
/// One piece of the incoming stream, read once and shared by every destination that wants it: the nodes send it
/// from the same memory, which goes back to the pool when the last of them is done with it.
/// </summary>
internal sealed class FanOutSegment
{
    public const int Size = 256 * 1024;

    private byte[]? _array = ArrayPool<byte>.Shared.Rent(Size);
    private int _holders = 1;

    public int Length { get; set; }

    public Memory<byte> Free => _array.AsMemory(Length);

    public ReadOnlyMemory<byte> Slice(int start) => _array.AsMemory(start, Length - start);

    public void Hold() => Interlocked.Increment(ref _holders);

    public void Release()
    {
        if (Interlocked.Decrement(ref _holders) == 0 && Interlocked.Exchange(ref _array, null) is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}

/// <summary>
/// One destination of a fan-out: a short queue of shared segments whose reading end is the body of one node's
/// <c>put</c>. The destination wants the incoming bytes from <see cref="Skip"/> on (its own offset).
/// </summary>
internal sealed class FanOutDestination : IDisposable
{
    // Bounded: a destination waits for at most this many segments (1 MiB), whatever the object's size.
    private const int QueuedSegments = 4;

    private readonly Channel<(FanOutSegment Segment, int Start)> _queue =
        Channel.CreateBounded<(FanOutSegment, int)>(new BoundedChannelOptions(QueuedSegments));

    private readonly CancellationTokenSource _abort;
    private readonly TimeSpan _answerTimeout;
    private Exception? _failure;
    private long _sent;

    /// <param name="name">The node's name, for logs.</param>
    /// <param name="skip">How many of the incoming bytes the node already has (its offset less the client's).</param>
    /// <param name="time">The edge's clock, on which the answer timeout runs.</param>
    /// <param name="answerTimeout">How long the node may take to answer once it has every byte.</param>
    public FanOutDestination(string name, long skip, TimeProvider time, TimeSpan? answerTimeout = null)
    {
        Name = name;
        Skip = skip;
        _answerTimeout = answerTimeout ?? Timeout.InfiniteTimeSpan;
        // Made with the clock so that its CancelAfter runs on it; that of a source made without one runs on the system clock.
        _abort = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        Content = new QueueContent(this);
    }

    public string Name { get; }

    /// <summary>Bytes of the incoming stream this destination does not want (it already has them).</summary>
    public long Skip { get; }

    /// <summary>The request body for this destination.</summary>
    public HttpContent Content { get; }

    /// <summary>Bytes written to the node's request so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Set once the destination was dropped (its request ended, failed or stalled).</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Cancelled once the destination is dropped, or (with <see cref="Failure"/> still unset) when the node has not
    /// answered within the answer timeout of its last byte: the node's request must end with it, or a node that
    /// stopped reading (or answering) would hold the client's answer forever.
    /// </summary>
    public CancellationToken Aborted => _abort.Token;

    /// <summary>Queues a segment from <paramref name="start"/> on; false once the destination is gone.</summary>
    internal async ValueTask<bool> WriteAsync(FanOutSegment segment, int start, CancellationToken cancellationToken)
    {
        segment.Hold();
        try
        {
            if (!_queue.Writer.TryWrite((segment, start)))
            {
                await _queue.Writer.WriteAsync((segment, start), cancellationToken);
            }

            return true;
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            segment.Release();
            if (e is OperationCanceledException)
            {
                throw;
            }

            return false;
        }
    }

    public void Fail(Exception reason)
    {
        Interlocked.CompareExchange(ref _failure, reason, null);
        _queue.Writer.TryComplete(reason);

        // Nobody will send what is still queued: give it back (the reader releases the segment it is sending).
        while (_queue.Reader.TryRead(out var item))
        {
            item.Segment.Release();
        }

        try
        {
            _abort.Cancel();
        }
        catch (AggregateException)
        {
            // A callback of the node's request failed while it was being aborted: it is aborted all the same.
        }
        catch (ObjectDisposedException)
        {
            // The node's request is over already.
        }
    }

    /// <summary>Ends the answer timer; the node's request is over.</summary>
    public void Dispose() => _abort.Dispose();

    private void AwaitAnswer()
    {
        if (_answerTimeout != Timeout.InfiniteTimeSpan)
        {
            try
            {
                _abort.CancelAfter(_answerTimeout);
            }
            catch (ObjectDisposedException)
            {
                // The node answered before its body was all sent: nothing to wait for.
            }
        }
    }

    public void Finish()
    {
        if (Failure is null)
        {
            _queue.Writer.TryComplete();
        }
    }

    private sealed class QueueContent(FanOutDestination destination) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var queue = destination._queue.Reader;
            try
            {
                // Ends at Finish; throws the reason if the fan-out failed, so a node never sees a cut body as whole.
                while (await queue.WaitToReadAsync(cancellationToken))
                {
                    while (queue.TryRead(out var item))
                    {
                        try
                        {
                            var piece = item.Segment.Slice(item.Start);
                            await stream.WriteAsync(piece, cancellationToken);
                            Interlocked.Add(ref destination._sent, piece.Length);
                        }
                        finally
                        {
                            item.Segment.Release();
                        }
                    }
                }

                destination.AwaitAnswer();
            }
            catch (Exception e)
            {
                // Tells the fan-out this destination is gone, so it drops it instead of waiting.
                destination.Fail(e);
                throw;
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

/// <summary>
/// Copies one incoming stream to many destinations in a single pass: each segment is read once and queued for
/// every destination that wants it (from its own offset), in lock step, so memory stays bounded by the
/// destinations' queues. A destination that fails or stalls is dropped without failing the others.
/// </summary>
internal static class FanOutCopier
{
    /// <param name="time">The edge's clock, on which each destination's stall timer runs.</param>
    /// <returns>The number of bytes read from <paramref name="source"/>.</returns>
    public static async Task<long> CopyAsync(
        Stream source,
        IReadOnlyList<FanOutDestination> destinations,
        TimeSpan stallTimeout,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        // A timer per destination on the edge's clock (CancelAfter on a linked source would run on the system clock),
        // and what a write to it waits with: that timer or the client's token.
        var timers = destinations.Select(_ => new CancellationTokenSource(Timeout.InfiniteTimeSpan, time)).ToArray();
        var stalls = timers.Select(t => CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, t.Token)).ToArray();
        var writes = new Task[destinations.Count];
        long position = 0;
        try
        {
            while (true)
            {
                // Whole segments, not whatever one read returns: a node that finds a batch waiting takes it without
                // stopping, where one fed a piece at a time waits (and wakes) for each (measured in bench/).
                var segment = new FanOutSegment();
                try
                {
                    segment.Length = await source.ReadAtLeastAsync(segment.Free, FanOutSegment.Size, throwOnEndOfStream: false, cancellationToken);
                    if (segment.Length == 0)
                    {
                        break;
                    }

                    var count = 0;
                    for (var i = 0; i < destinations.Count; i++)
                    {
                        var destination = destinations[i];
                        if (destination.Failure is null && position + segment.Length > destination.Skip)
                        {
                            var start = (int)Math.Max(0, destination.Skip - position);
                            writes[count++] = WriteAsync(
                                destination, segment, start, stallTimeout, timers[i], stalls[i].Token, cancellationToken);
                        }
                    }

                    await Task.WhenAll(writes.AsSpan(0, count));
                    position += segment.Length;
                }
                finally
                {
                    segment.Release();
                }

                if (destinations.All(d => d.Failure is not null))
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            // The source failed (client went away): no destination may take a partial object for a whole one.
            foreach (var destination in destinations)
            {
                destination.Fail(e);
            }

            throw;
        }
        finally
        {
            foreach (var stall in stalls)
            {
                stall.Dispose();
            }

            foreach (var timer in timers)
            {
                timer.Dispose();
            }
        }

        foreach (var destination in destinations)
        {
            destination.Finish();
        }

        return position;
    }

    private static async Task WriteAsync(
        FanOutDestination destination,
        FanOutSegment segment,
        int start,
        TimeSpan stallTimeout,
        CancellationTokenSource timer,
        CancellationToken stall,
        CancellationToken cancellationToken)
    {
        // Armed only while this destination's queue is full; a destination that takes nothing for that long is stalled.
        timer.CancelAfter(stallTimeout);
        try
        {
            if (!await destination.WriteAsync(segment, start, stall))
            {
                destination.Fail(new IOException($"node {destination.Name} stopped reading"));
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            destination.Fail(new TimeoutException($"node {destination.Name} took no data for {stallTimeout}"));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            destination.Fail(e);
        }
        finally
        {
            timer.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }
}
