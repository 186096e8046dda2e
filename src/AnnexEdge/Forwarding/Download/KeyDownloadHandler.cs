using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// Carries content downloads (<c>GET .../key/KEY</c>, as <see cref="BackendRequests"/> addressed them) to a backend
/// over the edge's own HTTP/1.1 connections, which read the node's body in large batches (<see cref="BackendConnection"/>)
/// and give it on with its length as a Content-Length, so the client's response is not re-chunked and not flushed per
/// piece. Every other request goes to the inner handler (SocketsHttpHandler). Sits innermost, under the credentials
/// handler, so it sends exactly the headers the edge decided on. A body cut or stalled midway is asked for again from
/// the byte reached (<see cref="ResumingBodyStream"/>), unless the caller continues cuts itself (<see cref="Resume"/>).
/// </summary>
internal sealed partial class KeyDownloadHandler(
    HttpMessageHandler inner, BackendConnectionPool pool, KeyDownloadHandler.Settings settings, TimeProvider time, ILogger<KeyDownloadHandler> logger)
    : DelegatingHandler(inner)
{
    /// <summary>
    /// Set false on a request whose caller continues a cut download itself (the cluster gateway, which may continue
    /// from another node): the body then fails at the cut, as before.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> Resume = new("AnnexEdge.ResumeDownload");

    /// <param name="StallTimeout">A body that gets no byte for this long is asked for again from the byte reached.</param>
    public sealed record Settings(TimeSpan ConnectTimeout, TimeSpan StallTimeout, bool AcceptAnyCertificate);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsDownload(request, out var addressed))
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var uri = request.RequestUri!;
        var endpoint = $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}";
        var (connection, parsed) = await ExchangeAsync(request, uri, endpoint, reuse: true, cancellationToken);
        var owned = true;
        try
        {
            var response = new HttpResponseMessage(parsed.Status)
            {
                ReasonPhrase = parsed.Reason,
                Version = HttpVersion.Version11,
                RequestMessage = request,
            };
            var dataLength = DataLength(parsed);
            long? announced = parsed.ContentLength >= 0 ? parsed.ContentLength : null;
            if (announced is null && parsed.Chunked && parsed.Status == HttpStatusCode.OK && dataLength is not null)
            {
                // A download's body is its data length: held to it, and announced to the client as the Content-Length.
                announced = dataLength;
            }

            // Only a body whose length is its data length can be continued: the backend's answer from an offset says
            // how much is left, which must be exactly what this one still owed.
            var resumable = parsed.Status == HttpStatusCode.OK && dataLength > 0 && announced == dataLength
                && (!request.Options.TryGetValue(Resume, out var resume) || resume);
            var body = new BackendBodyStream(connection, pool, parsed, announced, resumable ? settings.StallTimeout : Timeout.InfiniteTimeSpan);
            owned = false;
            var content = new BackendBodyContent(resumable
                ? new ResumingBodyStream(body, dataLength!.Value, (delivered, remaining, reason, ct) => ContinueAsync(request, addressed, endpoint, delivered, remaining, reason, ct))
                : body);
            foreach (var (name, value) in parsed.Fields)
            {
                if (!response.Headers.TryAddWithoutValidation(name, value))
                {
                    content.Headers.TryAddWithoutValidation(name, value);
                }
            }

            content.Headers.ContentLength = parsed.HasNoBody ? 0 : announced;
            response.Content = content;
            return response;
        }
        finally
        {
            if (owned)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A bodiless GET of a key, as <see cref="BackendRequests"/> addressed it (YARP's forwarding and the cluster gateway
    /// address every download there); a message it did not address is not read for a key and goes to the inner handler.
    /// </summary>
    private static bool IsDownload(HttpRequestMessage request, [NotNullWhen(true)] out BackendRequest? addressed) =>
        request.Options.TryGetValue(BackendRequests.Addressed, out addressed)
        && addressed.Request.Endpoint == P2pEndpoint.Key && request.Method == HttpMethod.Get && request.Content is null;

    /// <summary>
    /// Asks the backend again for the rest of a cut body, on a new connection (a stalled backend may hold a pooled
    /// one's twin), and takes its answer only if it is exactly the rest.
    /// </summary>
    private async ValueTask<BackendBodyStream> ContinueAsync(
        HttpRequestMessage request, BackendRequest addressed, string endpoint, long delivered, long remaining, string reason, CancellationToken cancellationToken)
    {
        var offset = (addressed.Request.Offset ?? 0) + delivered;
        var key = addressed.Request.Key!;
        Log.DownloadContinued(logger, key, endpoint, offset, reason);
        BackendConnection connection;
        ResponseHead parsed;
        try
        {
            var rest = BackendRequests.Uri(addressed.BackendAddress, addressed.Request with { Offset = offset });
            (connection, parsed) = await ExchangeAsync(request, rest, endpoint, reuse: false, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            Log.DownloadNotContinued(logger, key, endpoint, offset, e.Message);
            throw new IOException($"{reason}; asked again from byte {offset}: {e.Message}", e);
        }

        if (parsed.Status != HttpStatusCode.OK || DataLength(parsed) != remaining || parsed.HasNoBody
            || (parsed.ContentLength >= 0 && parsed.ContentLength != remaining))
        {
            await connection.DisposeAsync();
            var answer = $"{endpoint} answered {(int)parsed.Status} with data length {parsed.Field(P2pRequestParser.DataLengthHeader) ?? "none"}, not the {remaining} bytes left";
            Log.DownloadNotContinued(logger, key, endpoint, offset, answer);
            throw new IOException($"{reason}; asked again from byte {offset}, {answer}");
        }

        return new BackendBodyStream(connection, pool, parsed, remaining, settings.StallTimeout);
    }

    private static long? DataLength(ResponseHead head) =>
        head.Field(P2pRequestParser.DataLengthHeader) is { } field && P2pAnswer.TryReadDataLength([field], out var dataLength) ? dataLength : null;

    /// <summary>Sends the request for <paramref name="uri"/> and reads the answer's head.</summary>
    private async Task<(BackendConnection Connection, ResponseHead Head)> ExchangeAsync(
        HttpRequestMessage request, Uri uri, string endpoint, bool reuse, CancellationToken cancellationToken)
    {
        var head = RequestHead.Encode(request, uri);
        try
        {
            // A pooled connection may have been closed by the server just now; a GET that got no answer on one is
            // retried once on a new connection.
            while (reuse && pool.TryTake(endpoint) is { } pooled)
            {
                if (await TrySendAsync(pooled, head, cancellationToken) is { } answered)
                {
                    return answered;
                }
            }

            var fresh = await BackendConnection.ConnectAsync(uri, endpoint, settings.ConnectTimeout, settings.AcceptAnyCertificate, time, cancellationToken);
            return await TrySendAsync(fresh, head, cancellationToken)
                ?? throw new HttpRequestException(HttpRequestError.ResponseEnded, $"{endpoint} closed the connection without answering");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(head.Array!);
        }
    }

    /// <summary>Sends the request and reads the head; null if a reused connection turned out to be closed.</summary>
    private static async Task<(BackendConnection, ResponseHead)?> TrySendAsync(
        BackendConnection connection, ArraySegment<byte> head, CancellationToken cancellationToken)
    {
        var owned = true;
        try
        {
            connection.RentBuffer();
            try
            {
                await connection.Stream.WriteAsync(head, cancellationToken);
                await connection.Stream.FlushAsync(cancellationToken);
            }
            catch (IOException) when (connection.Reused)
            {
                return null;
            }
            catch (IOException e)
            {
                throw new HttpRequestException(HttpRequestError.Unknown, $"sending to {connection.Endpoint} failed: {e.Message}", e);
            }

            ResponseHead? parsed;
            var interim = false;
            do
            {
                int consumed;
                while ((parsed = ResponseHead.TryParse(connection.Data, forHead: false, out consumed)) is null)
                {
                    bool more;
                    try
                    {
                        more = await connection.FillAsync(1, 1, Timeout.InfiniteTimeSpan, cancellationToken);
                    }
                    catch (IOException) when (connection.Reused && connection.Buffered == 0 && !interim)
                    {
                        return null;
                    }
                    catch (IOException e)
                    {
                        throw new HttpRequestException(HttpRequestError.ResponseEnded, $"{connection.Endpoint} failed while answering: {e.Message}", e);
                    }

                    if (!more)
                    {
                        if (connection.Reused && connection.Buffered == 0 && !interim)
                        {
                            return null;
                        }

                        throw new HttpRequestException(HttpRequestError.ResponseEnded, $"{connection.Endpoint} closed the connection inside its answer");
                    }
                }

                connection.Consume(consumed);

                // 100 Continue and other interim answers precede the real one.
                interim = (int)parsed.Status < 200;
            }
            while (interim);

            owned = false;
            return (connection, parsed);
        }
        finally
        {
            if (owned)
            {
                await connection.DisposeAsync();
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.DownloadContinued, LogLevel.Warning, "Download of {Key} from {Backend} asked again from byte {Offset}: {Reason}")]
        public static partial void DownloadContinued(ILogger logger, string key, string backend, long offset, string reason);

        [LoggerMessage(EdgeEventIds.DownloadNotContinued, LogLevel.Error, "Download of {Key} from {Backend} could not be continued from byte {Offset}: {Reason}; the client's connection is cut")]
        public static partial void DownloadNotContinued(ILogger logger, string key, string backend, long offset, string reason);
    }
}
