using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>
/// Passive health: a backend that refuses or drops a connection, or times out before answering, leaves
/// rotation at once for the reactivation period; the active probe brings it back when it answers again.
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

        var period = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? options.Value.HealthChecks.ReactivationPeriod;
        healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, period);
    }

    /// <summary>Failures that say the backend is unreachable, not that the client went away.</summary>
    public static bool IsBackendFailure(IForwarderErrorFeature error) => error.Error switch
    {
        ForwarderError.Request => IsConnectFailure(error.Exception),
        ForwarderError.RequestTimedOut => true,
        _ => false,
    };

    /// <summary>The connection was never made, so the backend cannot have seen the request: safe to try another.</summary>
    public static bool IsConnectFailure(Exception? exception) =>
        exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };
}
