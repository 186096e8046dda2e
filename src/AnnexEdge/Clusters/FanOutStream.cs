using System.IO.Pipelines;
using System.Net;

namespace AnnexEdge.Clusters;

/// <summary>
/// One destination of a fan-out: a bounded pipe whose reading end is the body of one node's <c>put</c>.
/// The destination wants the incoming bytes from <see cref="Skip"/> on (its own offset).
/// </summary>
internal sealed class FanOutDestination
{
    // Bounded: a transfer holds at most this much per node, whatever the object's size.
    private const long PauseAt = 1024 * 1024;

    // Segments of one chunk: a few pooled buffers per pipe that the pool can keep, not hundreds of 4 KiB ones it drops.
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseAt, resumeWriterThreshold: PauseAt / 2, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));

    public FanOutDestination(string name, long skip)
    {
        Name = name;
        Skip = skip;
        Content = new PipeContent(_pipe.Reader);
    }

    public string Name { get; }

    /// <summary>Bytes of the incoming stream this destination does not want (it already has them).</summary>
    public long Skip { get; }

    /// <summary>The request body for this destination.</summary>
    public HttpContent Content { get; }

    /// <summary>Set once the destination was dropped (its request ended, failed or stalled).</summary>
    public Exception? Failure { get; private set; }

    public PipeWriter Writer => _pipe.Writer;

    public void Fail(Exception reason)
    {
        Failure ??= reason;
        _pipe.Writer.Complete(reason);
    }

    public void Finish()
    {
        if (Failure is null)
        {
            _pipe.Writer.Complete();
        }
    }

    private sealed class PipeContent(PipeReader reader) : HttpContent
    {
        private const int Burst = 256 * 1024;

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            try
            {
                // Sent in bursts of a batch, not piece by piece: a node that finds a batch waiting reads it without
                // stopping, where one fed a piece at a time waits (and wakes) for each (measured in bench/).
                while (true)
                {
                    var result = await reader.ReadAtLeastAsync(Burst, cancellationToken);
                    foreach (var segment in result.Buffer)
                    {
                        await stream.WriteAsync(segment, cancellationToken);
                    }

                    reader.AdvanceTo(result.Buffer.End);
                    if (result.IsCanceled)
                    {
                        throw new OperationCanceledException("the fan-out to this node was cancelled");
                    }

                    if (result.IsCompleted)
                    {
                        break;
                    }
                }

                await reader.CompleteAsync();
            }
            catch (Exception e)
            {
                // Tells the writer this destination is gone, so the fan-out drops it instead of waiting.
                await reader.CompleteAsync(e);
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
/// Copies one incoming stream to many destinations in a single pass: each chunk is read once and written to
/// every destination that wants it (from its own offset), in lock step, so memory stays bounded by the
/// destinations' pipes. A destination that fails or stalls is dropped without failing the others.
/// </summary>
internal static class FanOutStream
{
    private const int ChunkSize = 64 * 1024;

    /// <returns>The number of bytes read from <paramref name="source"/>.</returns>
    public static async Task<long> CopyAsync(
        Stream source, IReadOnlyList<FanOutDestination> destinations, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkSize];
        long position = 0;
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                var chunk = buffer.AsMemory(0, read);
                var writes = new List<Task>(destinations.Count);
                foreach (var destination in destinations)
                {
                    if (destination.Failure is not null || position + read <= destination.Skip)
                    {
                        continue;
                    }

                    var start = (int)Math.Max(0, destination.Skip - position);
                    writes.Add(WriteAsync(destination, chunk[start..], stallTimeout, cancellationToken));
                }

                await Task.WhenAll(writes);
                position += read;
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

        foreach (var destination in destinations)
        {
            destination.Finish();
        }

        return position;
    }

    private static async Task WriteAsync(FanOutDestination destination, ReadOnlyMemory<byte> data, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        try
        {
            var flush = destination.Writer.WriteAsync(data, cancellationToken).AsTask();
            if (!flush.IsCompleted
                && await Task.WhenAny(flush, Task.Delay(stallTimeout, cancellationToken)) != flush)
            {
                destination.Writer.CancelPendingFlush();
                destination.Fail(new TimeoutException($"node {destination.Name} took no data for {stallTimeout}"));
                return;
            }

            var result = await flush;
            if (result.IsCompleted || result.IsCanceled)
            {
                destination.Fail(new IOException($"node {destination.Name} stopped reading"));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            destination.Fail(e);
        }
    }
}
