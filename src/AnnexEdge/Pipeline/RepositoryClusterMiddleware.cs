using AnnexEdge.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Pipeline;

/// <summary>
/// First in YARP's pipeline: a request reaches the backends of the repository the P2P layer resolved it to, and no
/// other. The one route of every repository (<see cref="YarpConfigFactory.RepositoriesRouteId"/>) is handed to that
/// repository's cluster; a peer's route serves only the requests resolved to a node behind that peer; anything else
/// (a route matched without a resolved repository, say by another spelling of the path) is refused.
/// </summary>
internal sealed class RepositoryClusterMiddleware(RequestDelegate next, IProxyStateLookup proxyState)
{
    public Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        if (context.GetP2pRequest()?.Repository is not { } repository)
        {
            return NotFound(context);
        }

        var route = proxy.Route;
        if (route.Config.RouteId == YarpConfigFactory.RepositoriesRouteId)
        {
            // A repository's cluster is gone when a reload removed it after the P2P layer resolved the request.
            if (repository.Via is not null || !proxyState.TryGetCluster(repository.YarpClusterId, out var cluster))
            {
                return NotFound(context);
            }

            // With a route model of its own cluster: load balancing, passive health and the forwarder read the
            // cluster from the route.
            context.ReassignProxyRequest(new RouteModel(route.Config, cluster, route.Transformer), cluster);
            return next(context);
        }

        return repository.YarpClusterId == proxy.Cluster.Config.ClusterId ? next(context) : NotFound(context);
    }

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }
}
