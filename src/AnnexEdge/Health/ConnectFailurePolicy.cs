using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>
/// Passive health: a backend that refuses a connection leaves rotation at once for the reactivation period; the
/// active probe brings it back when it answers again. The cluster gateway reports its own failures here too (a
/// refused connection, or no answer within its timeout).
/// A p2phttp answer of any status is a live backend and changes nothing.
/// </summary>
internal sealed class ConnectFailurePolicy(IDestinationHealthUpdater healthUpdater, IOptions<AnnexEdgeOptions> options)
    : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "AnnexEdgeConnectFailure";

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null || !IsBackendFailure(error))
        {
            return;
        }

        BackendFailed(cluster, destination);
    }

    /// <summary>
    /// Takes a backend out of rotation for the reactivation period, for YARP's forwarding and the cluster gateway
    /// alike: one notion of health. Called for what YARP forwards and for what the gateway sends itself.
    /// </summary>
    public void BackendFailed(ClusterState yarpCluster, DestinationState destination)
    {
        var period = yarpCluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? options.Value.HealthChecks.ReactivationPeriod;
        healthUpdater.SetPassive(yarpCluster, destination, DestinationHealth.Unhealthy, period);
    }

    /// <summary>Failures that say the backend is unreachable, not that the client went away.</summary>
    /// <remarks>
    /// A timed-out request is not one: a node legitimately takes long over some requests (it does not answer a remove
    /// of content it holds a lock on), and a node that answers nothing at all is caught by the active probe. (The
    /// gateway's own timeout is a failure: it applies only to checks a live node answers at once, see NodeClient.)
    /// </remarks>
    public static bool IsBackendFailure(IForwarderErrorFeature error) =>
        error.Error == ForwarderError.Request && IsConnectFailure(error.Exception);

    /// <summary>The connection was never made, so the backend cannot have seen the request: safe to try another.</summary>
    public static bool IsConnectFailure(Exception? exception) =>
        exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };
}
