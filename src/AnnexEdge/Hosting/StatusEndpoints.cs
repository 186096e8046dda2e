using System.Net;
using AnnexEdge.Clusters;
using AnnexEdge.Configuration;
using AnnexEdge.Directories;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace AnnexEdge.Hosting;

/// <summary>
/// <c>/_annexedge/health</c> says the edge is up; <c>/_annexedge/status</c> shows every backend's health and every
/// cluster's nodes as the edge sees them (loopback clients only unless <c>StatusAllowRemote</c>, since it names
/// backends), and the p2phttp servers the edge runs itself. It reads only the edge's own state: a status request never reaches a backend.
/// </summary>
internal static class StatusEndpoints
{
    public static void MapStatusEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Request delegates, not bound handlers: see TelemetryEndpoints.
        endpoints.MapGet("/_annexedge/health", context => Results.Text("ok\n").ExecuteAsync(context));
        endpoints.MapGet("/_annexedge/status", context => Status(context).ExecuteAsync(context));
    }

    private static IResult Status(HttpContext context)
    {
        var services = context.RequestServices;
        var catalog = services.GetRequiredService<RepositoryCatalog>();
        var state = services.GetRequiredService<IProxyStateLookup>();
        var nodes = services.GetRequiredService<NodeClient>();
        var load = services.GetRequiredService<BackendLoad>();
        var managed = services.GetRequiredService<ManagedDirectories>();
        var options = services.GetRequiredService<IOptions<AnnexEdgeOptions>>();
        var remote = context.Connection.RemoteIpAddress;
        if (!options.Value.StatusAllowRemote && remote is not null && !IPAddress.IsLoopback(remote))
        {
            return Results.NotFound();
        }

        return Results.Json(new
        {
            repositories = catalog.Repositories.Select(r =>
            {
                state.TryGetCluster(r.YarpClusterId, out var yarpCluster);
                return new
                {
                    name = r.Name,
                    uuid = r.Uuid,
                    backends = r.Backends.Select(b =>
                    {
                        var d = yarpCluster?.Destinations.GetValueOrDefault(b.Id);
                        return new
                        {
                            id = b.Id,
                            address = b.Address,
                            active = d?.Health.Active.ToString(),
                            passive = d?.Health.Passive.ToString(),
                            inFlight = d is null ? 0 : load.InFlight(d),
                            available = yarpCluster?.DestinationsState.AvailableDestinations.Contains(d!) ?? false,
                        };
                    }),
                };
            }),
            clusters = catalog.Clusters.Select(c => new
            {
                name = c.Name,
                uuid = c.Uuid,
                copies = c.Copies,
                nodes = c.Nodes.Select(n => new
                {
                    name = n.Name,
                    uuid = n.Uuid,
                    // The gateway's own test for using a node, not the backends' "available": YARP makes every
                    // backend of an all-unhealthy node available again, and the gateway skips such a node.
                    live = nodes.IsLive(n),
                    // Transfers the gateway has in flight to the node, which steer its "least busy" choices.
                    inFlight = nodes.InFlight(n),
                }),
            }),
            // The p2phttp servers the edge runs for Directories with Manage, serving or draining.
            managed = managed.Status(),
        });
    }
}
