using AnnexEdge.Logging;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;

namespace AnnexEdge.Peering;

/// <summary>
/// <c>/_annexedge/peer/routes?peer=UUID</c>: this edge's advertisement for one configured peer (split horizon), and
/// <c>POST /_annexedge/peer/changed?peer=UUID</c>: the peer's routes changed, fetch them now; both for the peer's own
/// <c>BackendUser</c> with <c>full</c> access to every cluster the two share. <c>/_annexedge/routes</c>: the routing
/// table for operators, protected as the status page is.
/// </summary>
internal static partial class PeerEndpoints
{
    public const string RoutesPath = "/_annexedge/peer/routes";

    public const string ChangedPath = "/_annexedge/peer/changed";

    /// <summary>The query parameter naming the asking peer by its gateway UUID.</summary>
    public const string PeerParameter = "peer";

    public static void MapPeerEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Request delegates, not bound handlers: see TelemetryEndpoints.
        endpoints.MapGet(RoutesPath, async context =>
        {
            if (await AskingPeerAsync(context) is { } peer)
            {
                var routes = context.RequestServices.GetRequiredService<PeerRoutes>();
                await Results.Json(new
                {
                    gateway = context.RequestServices.GetRequiredService<RepositoryCatalog>().GatewayUuid,
                    routes = routes.Table.AdvertiseTo(peer.Uuid).Select(a => new { uuid = a.Uuid, cost = a.Cost, hops = a.Hops, clusters = a.Clusters ?? [] }),
                }).ExecuteAsync(context);
            }
        });

        // A change spreads at the speed of the links rather than one RefreshInterval per hop; the refresher coalesces
        // requests that come while it is fetching.
        endpoints.MapPost(ChangedPath, async context =>
        {
            if (await AskingPeerAsync(context) is not null)
            {
                context.RequestServices.GetRequiredService<PeerRoutes>().RequestRefresh();
                context.Response.StatusCode = StatusCodes.Status204NoContent;
            }
        });

        endpoints.MapGet("/_annexedge/routes", async context =>
        {
            if (!await context.RequestServices.GetRequiredService<OperatorAccess>().AllowsAsync(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            var routes = context.RequestServices.GetRequiredService<PeerRoutes>();
            var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
            await Results.Json(new
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
            }).ExecuteAsync(context);
        });
    }

    /// <summary>
    /// The configured peer that asks, when its user may know this edge's routes; otherwise null, with the answer (404
    /// for an unknown peer, 401/403 from the access gate) already given.
    /// </summary>
    private static async Task<Peer?> AskingPeerAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var routes = services.GetRequiredService<PeerRoutes>();
        var catalog = services.GetRequiredService<RepositoryCatalog>();
        var gate = services.GetRequiredService<AccessGate>();
        var logger = services.GetRequiredService<ILogger<PeerRoutes>>();
        var asking = context.Request.Query[PeerParameter].ToString();
        if (routes.PeerByUuid(asking) is not { } peer)
        {
            // Only a configured peer is told anything: the routes name this edge's nodes.
            Log.UnknownPeerAsked(logger, asking, context.Connection.RemoteIpAddress?.ToString());
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return null;
        }

        // Full access, as removing from the cluster needs: what the peer learns here decides where it sends writes.
        var policy = catalog.Current.Access;
        foreach (var cluster in peer.Clusters)
        {
            var request = new AccessRequest("peer-routes", P2pAction.Remove, asking, null, Audited: false);
            if (!await gate.AuthorizeAsync(context, request, AccessTarget.Of(cluster), policy))
            {
                return null;
            }
        }

        return peer;
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.UnknownPeerAsked, LogLevel.Warning, "Refused {Peer} from {RemoteIp} its routes or change notice: no such peer is configured (AnnexEdge:Peers)")]
        public static partial void UnknownPeerAsked(ILogger logger, string peer, string? remoteIp);
    }
}
