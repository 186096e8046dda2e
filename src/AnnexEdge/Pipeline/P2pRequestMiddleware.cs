using System.Diagnostics;
using AnnexEdge.Logging;
using AnnexEdge.Peering;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;
using Microsoft.AspNetCore.Http.Features;

namespace AnnexEdge.Pipeline;

/// <summary>
/// The first P2P layer: every <c>/git-annex/</c> request is parsed and validated here and resolved to its one
/// <see cref="Target"/>. Malformed requests are answered as <c>git annex p2phttp</c> would answer them and unknown
/// UUIDs get 404, without any backend being contacted. A node UUID no repository has but a peer reaches resolves to
/// that node through the peer (<see cref="PeerRoutes"/>). Valid requests go on with a <see cref="P2pRequestFeature"/>,
/// whatever their target: access, lock policy and the target's handler come next (see <c>EdgeApplication</c>).
/// </summary>
internal sealed partial class P2pRequestMiddleware(
    RequestDelegate next, RepositoryCatalog catalog, PeerRoutes peers, EdgeMetrics metrics, Transfers transfers, ILogger<P2pRequestMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";

        // Case-insensitively: YARP's routes match paths that way, so "/GIT-ANNEX/..." must not get past this layer.
        // The parser then refuses it with 404, as p2phttp (case-sensitive) does.
        if (!path.StartsWith(P2pRequestParser.PathPrefix, StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var parsed = P2pRequestParser.Parse(
            context.Request.Method,
            path,
            context.Request.QueryString.Value,
            context.Request.Headers.TryGetValue(P2pRequestParser.DataLengthHeader, out var length) ? length.ToString() : null);

        if (parsed.Rejection is { } rejection)
        {
            Log.RequestRejected(logger, rejection.StatusCode, rejection.Body);
            await context.RejectAsync(rejection);
            metrics.RequestAnswered(null, null, context.Response.StatusCode, started, 0, 0);
            return;
        }

        var request = parsed.Request!;
        var snapshot = catalog.Current;
        var target = snapshot.Resolve(request.Uuid);
        if (target is null && peers.Through(request.Uuid, request.Bypass) is { Via: { } peer } routed)
        {
            // A node of another site: on to the cheapest peer not already on the request's path, with this edge added
            // to bypass so that no gateway further on sends it back here.
            Log.RoutedThroughPeer(logger, request.Uuid, peer.Name);
            target = routed;
            if (!request.Bypass.Contains(snapshot.GatewayUuid!, StringComparer.Ordinal))
            {
                request = request with { Bypass = [.. request.Bypass, snapshot.GatewayUuid!] };
            }
        }

        if (target is null)
        {
            Log.UnknownUuid(logger, request.Uuid);
            await context.RejectAsync(P2pRejection.NotFound);
            metrics.RequestAnswered(request.Endpoint, null, context.Response.StatusCode, started, 0, 0);
            return;
        }

        var feature = new P2pRequestFeature(request, target, snapshot);
        context.Features.Set(feature);
        var counter = new ByteCountingStream(context.Request.Body);
        context.Request.Body = counter;
        feature.CountRequestBody(counter);

        // No size limit and no minimum rate beyond Kestrel's default: a multi-GB object streams through.
        if (request.Endpoint == P2pEndpoint.Put && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } max)
        {
            max.MaxRequestBodySize = null;
        }

        // Only transfers are listed on the status page: a checkpresent costs no entry.
        var transfer = request.Endpoint is P2pEndpoint.Key or P2pEndpoint.Put;
        if (transfer)
        {
            transfers.Started(feature);
        }

        try
        {
            await next(context);
        }
        finally
        {
            if (transfer)
            {
                transfers.Ended(feature);
            }

            metrics.RequestAnswered(request.Endpoint, target, context.Response.StatusCode, started, feature.BytesIn, feature.BytesOut);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.RequestRejected, LogLevel.Debug, "Refused a malformed p2phttp request with {StatusCode}: {Reason}")]
        public static partial void RequestRejected(ILogger logger, int statusCode, string reason);

        [LoggerMessage(EdgeEventIds.RoutedThroughPeer, LogLevel.Debug, "Node {Uuid} is reached through peer {Peer}")]
        public static partial void RoutedThroughPeer(ILogger logger, string uuid, string peer);

        [LoggerMessage(EdgeEventIds.UnknownUuid, LogLevel.Debug, "No repository with UUID {Uuid} is configured")]
        public static partial void UnknownUuid(ILogger logger, string uuid);
    }
}
