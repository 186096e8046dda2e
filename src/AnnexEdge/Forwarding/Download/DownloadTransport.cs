using AnnexEdge.Configuration;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// What carries content downloads (<c>GET .../key/KEY</c>) to a backend: <c>AnnexEdge:Forwarding:DownloadTransport</c>.
/// Every other request goes through YARP's SocketsHttpHandler either way.
/// </summary>
internal static class DownloadTransport
{
    /// <summary>
    /// The edge's own HTTP/1.1 connections (<see cref="KeyDownloadHandler"/>), which read the node's body in batches
    /// of up to 128 KiB under a socket receive low-water mark: about half SocketsHttpHandler's CPU per downloaded byte.
    /// A body cut or stalled midway is asked for again from the byte reached (<see cref="ResumingBodyStream"/>).
    /// </summary>
    public const string Edge = "Edge";

    /// <summary>
    /// YARP's SocketsHttpHandler, like every other request; <c>MaxConnectionsPerBackend</c> covers downloads too. A body
    /// cut midway is not continued: the client's connection is cut.
    /// </summary>
    public const string SocketsHttpHandler = "SocketsHttpHandler";

    public static IReadOnlyList<string> Names { get; } = [Edge, SocketsHttpHandler];

    /// <summary>Puts the configured transport under YARP's handler for one repository's backends.</summary>
    public static HttpMessageHandler Wrap(HttpMessageHandler handler, ForwardingOptions forwarding, TimeProvider time, ILogger<KeyDownloadHandler> logger) =>
        forwarding.DownloadTransport switch
        {
            Edge => new KeyDownloadHandler(
                handler,
                new BackendConnectionPool(time),
                new KeyDownloadHandler.Settings(forwarding.ConnectTimeout, forwarding.StallTimeout, forwarding.DangerousAcceptAnyBackendCertificate),
                time,
                logger),
            SocketsHttpHandler => handler,
            var other => throw new InvalidOperationException($"unknown download transport {other}"),
        };
}
