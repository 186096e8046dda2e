using System.Buffers;
using System.Net;
using AnnexEdge.Protocol;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// Carries content downloads (<c>GET .../key/KEY</c>) to a backend over the edge's own HTTP/1.1 connections, which
/// read the node's body in large batches (<see cref="BackendConnection"/>) and give it on with its length as a
/// Content-Length, so the client's response is not re-chunked and not flushed per piece. Every other request goes
/// to the inner handler (SocketsHttpHandler). Sits innermost, under the credentials handler, so it sends exactly
/// the headers the edge decided on.
/// </summary>
internal sealed class KeyDownloadHandler(
    HttpMessageHandler inner, BackendConnectionPool pool, TimeSpan connectTimeout, bool acceptAnyCertificate, TimeProvider time)
    : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!KeyDownloadRequest.Matches(request))
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var uri = request.RequestUri!;
        var endpoint = $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}";
        var head = RequestHead.Encode(request, uri);
        try
        {
            // A pooled connection may have been closed by the server just now; a GET that got no answer on one is
            // retried once on a new connection.
            while (pool.TryTake(endpoint) is { } pooled)
            {
                if (await TrySendAsync(pooled, request, head, cancellationToken) is { } response)
                {
                    return response;
                }
            }

            var fresh = await BackendConnection.ConnectAsync(uri, endpoint, connectTimeout, acceptAnyCertificate, time, cancellationToken);
            return await TrySendAsync(fresh, request, head, cancellationToken)
                ?? throw new HttpRequestException(HttpRequestError.ResponseEnded, $"{endpoint} closed the connection without answering");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(head.Array!);
        }
    }

    /// <summary>Sends the request and reads the head; null if a reused connection turned out to be closed.</summary>
    private async Task<HttpResponseMessage?> TrySendAsync(
        BackendConnection connection, HttpRequestMessage request, ArraySegment<byte> head, CancellationToken cancellationToken)
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
                        more = await connection.FillAsync(1, 1, cancellationToken);
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

            var response = new HttpResponseMessage(parsed.Status)
            {
                ReasonPhrase = parsed.Reason,
                Version = HttpVersion.Version11,
                RequestMessage = request,
            };
            long? announced = parsed.ContentLength >= 0 ? parsed.ContentLength : null;
            if (announced is null && parsed.Chunked && parsed.Status == HttpStatusCode.OK
                && parsed.Field(P2pRequestParser.DataLengthHeader) is { } field && P2pAnswer.TryReadDataLength([field], out var dataLength))
            {
                // A download's body is its data length: held to it, and announced to the client as the Content-Length.
                announced = dataLength;
            }

            var body = new BackendBodyStream(connection, pool, parsed, announced);
            owned = false;
            var content = new BackendBodyContent(body);
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

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }
}
