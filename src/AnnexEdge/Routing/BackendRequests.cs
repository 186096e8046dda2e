using System.Net;
using AnnexEdge.Protocol;

namespace AnnexEdge.Routing;

/// <summary>
/// The one way a request to a backend is addressed: the backend's base URL and the parsed request written back by
/// <see cref="P2pRequestUri"/>. YARP's forwarding (a request transform), the cluster gateway, the keeplocked relay and
/// the health probe all build their backend requests here.
/// </summary>
internal static class BackendRequests
{
    public static Uri Uri(string backendAddress, P2pRequest request)
    {
        if (request.Endpoint == P2pEndpoint.PutOffset)
        {
            // A putoffset goes with a client UUID of its own. p2phttp (10.20250416) holds the key's transfer lock, one
            // per client UUID and key, for a moment after answering it; a put of that key from the same client UUID in
            // that moment is refused inside the node and never answered (and the node's worker is lost). The offset
            // is the key's partial upload, whoever asks.
            request = request with { ClientUuid = Guid.NewGuid().ToString() };
        }

        return new(backendAddress.TrimEnd('/') + P2pRequestUri.PathAndQuery(request));
    }

    /// <summary>An HTTP/1.1 request (what p2phttp speaks) to the backend.</summary>
    public static HttpRequestMessage Create(HttpMethod method, string backendAddress, P2pRequest request, HttpContent? content = null) =>
        new(method, Uri(backendAddress, request))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Content = content,
        };
}
