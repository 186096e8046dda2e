using AnnexEdge.Logging;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;

namespace AnnexEdge.Peering;

/// <summary>
/// <c>/_annexedge/peer/routes?peer=UUID</c>: this edge's advertisement for one configured peer (split horizon), for
/// the peer's own <c>BackendUser</c> with <c>full</c> access to every cluster the two share. <c>/_annexedge/routes</c>:
/// the routing table for operators, protected as the status page is.
/// </summary>
internal static partial class PeerEndpoints
{
    public const string RoutesPath = "/_annexedge/peer/routes";

    /// <summary>The query parameter naming the asking peer by its gateway UUID.</summary>
    public const string PeerParameter = "peer";

    public static void MapPeerEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(RoutesPath, async (HttpContext context, PeerRoutes routes, RepositoryCatalog catalog, AccessGate gate, ILogger<PeerRoutes> logger) =>
        {
            var asking = context.Request.Query[PeerParameter].ToString();
            if (routes.PeerByUuid(asking) is not { } peer)
            {
                // Only a configured peer is told anything: the routes name this edge's nodes.
                Log.UnknownPeerAsked(logger, asking, context.Connection.RemoteIpAddress?.ToString());
                return Results.NotFound();
            }

            // Full access, as removing from the cluster needs: what the peer learns here decides where it sends writes.
            var policy = catalog.Current.Access;
            foreach (var cluster in peer.Clusters)
            {
                var request = new AccessRequest("peer-routes", P2pAction.Remove, asking, null, Audited: false);
                if (!await gate.AuthorizeAsync(context, request, AccessTarget.Of(cluster), policy))
                {
                    return Results.Empty;
                }
            }

            return Results.Json(new
            {
                gateway = catalog.GatewayUuid,
                routes = routes.Table.AdvertiseTo(peer.Uuid).Select(a => new { uuid = a.Uuid, cost = a.Cost, hops = a.Hops, clusters = a.Clusters ?? [] }),
            });
        });

        endpoints.MapGet("/_annexedge/routes", async (HttpContext context, OperatorAccess access, PeerRoutes routes, TimeProvider time) =>
        {
            if (!await access.AllowsAsync(context))
            {
                return Results.NotFound();
            }

            var now = time.GetUtcNow();
            return Results.Json(new
            {
                routes = routes.Table.Routes.Select(r => new
                {
                    destination = r.Destination,
                    nextHop = r.Via ?? "direct",
                    nextHopUuid = r.ViaUuid,
                    hops = r.Hops,
                    cost = r.Cost,
                    ageSeconds = Math.Round((now - r.Since).TotalSeconds, 1),
                    withdrawn = r.Withdrawn,
                }),
                peers = routes.Table.PeerStates.Select(p => new
                {
                    name = p.Peer.Name,
                    uuid = p.Peer.Uuid,
                    linkCost = p.Peer.LinkCost,
                    advertises = p.Peer.Nodes is null,
                    up = p.Up,
                    failedFetches = p.Failures,
                    lastAdvertisedSecondsAgo = p.LastAdvertised is { } last ? Math.Round((now - last).TotalSeconds, 1) : (double?)null,
                }),
            });
        });
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.UnknownPeerAsked, LogLevel.Warning, "Refused routes to {Peer} from {RemoteIp}: no such peer is configured (AnnexEdge:Peers)")]
        public static partial void UnknownPeerAsked(ILogger logger, string peer, string? remoteIp);
    }
}
