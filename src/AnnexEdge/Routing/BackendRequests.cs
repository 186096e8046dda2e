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
    public static Uri Uri(string backendAddress, P2pRequest request) =>
        new(backendAddress.TrimEnd('/') + P2pRequestUri.PathAndQuery(request));

    /// <summary>An HTTP/1.1 request (what p2phttp speaks) to the backend.</summary>
    public static HttpRequestMessage Create(HttpMethod method, string backendAddress, P2pRequest request, HttpContent? content = null) =>
        Http11(new HttpRequestMessage(method, Uri(backendAddress, request)) { Content = content });

    /// <summary>Makes a request (of a subclass too) one that p2phttp speaks: HTTP/1.1.</summary>
    public static T Http11<T>(T message)
        where T : HttpRequestMessage
    {
        message.Version = HttpVersion.Version11;
        message.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        return message;
    }
}
