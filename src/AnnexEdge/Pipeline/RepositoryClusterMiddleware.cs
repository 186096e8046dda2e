using AnnexEdge.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Pipeline;

/// <summary>
/// First in YARP's pipeline: a request reaches the backends of the repository the P2P layer resolved it to (for a
/// node behind a peer, the peer's), and no other. The one route (<see cref="YarpConfigFactory.RepositoriesRouteId"/>)
/// is handed to that cluster; a request matched without a resolved repository, say by another spelling of the path,
/// is refused.
/// </summary>
internal sealed class RepositoryClusterMiddleware(RequestDelegate next, IProxyStateLookup proxyState)
{
    public Task InvokeAsync(HttpContext context)
    {
        // A repository's cluster is gone when a reload removed it after the P2P layer resolved the request.
        if (context.GetP2pRequest()?.Repository is not { } repository || !proxyState.TryGetCluster(repository.YarpClusterId, out var cluster))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        // With a route model of its own cluster: load balancing, passive health and the forwarder read the cluster
        // from the route.
        var route = context.GetReverseProxyFeature().Route;
        context.ReassignProxyRequest(new RouteModel(route.Config, cluster, route.Transformer), cluster);
        return next(context);
    }
}
