using AnnexEdge.Configuration;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// How content downloads (<c>GET .../key/KEY</c>) travel from a backend: <c>AnnexEdge:Forwarding:DownloadTransport</c>.
/// Both go through YARP's SocketsHttpHandler, which carries every other request the same way either way.
/// </summary>
internal static class DownloadTransport
{
    /// <summary>
    /// Backend connections that receive a download's body in batches of up to 128 KiB under a socket receive
    /// low-water mark (<see cref="LowWaterStream"/>), and the data length announced as the Content-Length
    /// (<see cref="DataLengthAnnouncer"/>): about half SocketsHttpHandler's own CPU per downloaded byte.
    /// </summary>
    public const string Edge = "Edge";

    /// <summary>SocketsHttpHandler's own connections: the node's body is received as it comes, in pieces of a few KiB.</summary>
    public const string SocketsHttpHandler = "SocketsHttpHandler";

    public static IReadOnlyList<string> Names { get; } = [Edge, SocketsHttpHandler];

    /// <summary>Sets up YARP's handler for one repository's backends.</summary>
    public static void Configure(System.Net.Http.SocketsHttpHandler handler, ForwardingOptions forwarding, TimeProvider time)
    {
        if (forwarding.DownloadTransport == Edge)
        {
            handler.ConnectCallback = LowWaterConnector.For(time);
        }
    }

    /// <summary>Wraps YARP's handler for one repository's backends.</summary>
    public static HttpMessageHandler Wrap(HttpMessageHandler handler, ForwardingOptions forwarding) =>
        forwarding.DownloadTransport == Edge ? new DataLengthAnnouncer(handler) : handler;
}
