using System.Net;
using AnnexEdge.Protocol;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// Gives a content download's data length (<c>X-git-annex-data-length</c>) as its Content-Length when the backend
/// sent it chunked, so Kestrel passes the body on framed by length: neither re-chunked nor flushed per piece, and a
/// client is done at the last byte. A body that differs from it is still cut (DataLengthGuardStream).
/// </summary>
internal sealed class DataLengthAnnouncer(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.OK && response.Content.Headers.ContentLength is null
            && KeyDownloadRequest.Matches(request)
            && response.Headers.TryGetValues(P2pRequestParser.DataLengthHeader, out var values)
            && P2pAnswer.TryReadDataLength(values, out var dataLength))
        {
            response.Content.Headers.ContentLength = dataLength;
        }

        return response;
    }
}
