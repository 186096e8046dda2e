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
    /// <summary>
    /// What a message was addressed from (<see cref="Address"/>): a handler under the client reads the request here, not
    /// from its URI, and addresses a follow-up from it (KeyDownloadHandler asks again for the rest of a cut download).
    /// </summary>
    public static readonly HttpRequestOptionsKey<BackendRequest> Addressed = new("AnnexEdge.BackendRequest");

    public static Uri Uri(string backendAddress, P2pRequest request) =>
        new(backendAddress.TrimEnd('/') + P2pRequestUri.PathAndQuery(request));

    /// <summary>Points the message at the backend, and keeps what it was addressed from (<see cref="Addressed"/>).</summary>
    public static void Address(HttpRequestMessage message, string backendAddress, P2pRequest request)
    {
        message.RequestUri = Uri(backendAddress, request);
        message.Options.Set(Addressed, new BackendRequest(backendAddress, request));
    }

    /// <summary>An HTTP/1.1 request (what p2phttp speaks) to the backend.</summary>
    public static HttpRequestMessage Create(HttpMethod method, string backendAddress, P2pRequest request, HttpContent? content = null)
    {
        var message = Http11(new HttpRequestMessage { Method = method, Content = content });
        Address(message, backendAddress, request);
        return message;
    }

    /// <summary>Makes a request (of a subclass too) one that p2phttp speaks: HTTP/1.1.</summary>
    public static T Http11<T>(T message)
        where T : HttpRequestMessage
    {
        message.Version = HttpVersion.Version11;
        message.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        return message;
    }
}

/// <summary>A backend request as the edge addressed it: the backend's base URL and the parsed request.</summary>
internal sealed record BackendRequest(string BackendAddress, P2pRequest Request);
