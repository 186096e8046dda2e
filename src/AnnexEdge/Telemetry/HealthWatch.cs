using System.Collections.Concurrent;
using AnnexEdge.Clusters;
using AnnexEdge.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Telemetry;

/// <summary>
/// Counts each backend's moves into and out of rotation (<c>annexedge_backend_health_transitions_total</c>), in the
/// gateway's sense of it (<see cref="NodeClient.IsInRotation"/>). Looked at whenever a health check reports (active
/// probes and passive failures, through <see cref="ObservingHealthUpdater"/>) and when metrics are scraped; a
/// backend that YARP reactivates on its own timer is seen back at the next probe or scrape.
/// </summary>
internal sealed class HealthWatch
{
    private readonly ConcurrentDictionary<string, bool> _inRotation = new(StringComparer.Ordinal);
    private readonly EdgeMetrics _metrics;
    private readonly RepositoryCatalog _catalog;

    public HealthWatch(EdgeMetrics metrics, RepositoryCatalog catalog)
    {
        _metrics = metrics;
        _catalog = catalog;

        // A directory's repositories come and go: what is known of a removed one's backends goes with it.
        catalog.Replaced += next =>
        {
            foreach (var id in _inRotation.Keys.Where(id => !next.BackendIds.Contains(id)))
            {
                _inRotation.TryRemove(id, out _);
            }
        };
    }

    /// <summary>A backend of a repository moved into or out of rotation (routing recomputes at once; see PeerRefresher).</summary>
    public event Action? RotationChanged;

    public void Observe(ClusterState cluster, DestinationState destination)
    {
        if (_catalog.Current.FindByYarpCluster(cluster.ClusterId) is not { } repository)
        {
            return;
        }

        var up = NodeClient.IsInRotation(destination);
        var id = destination.DestinationId;
        while (true)
        {
            if (!_inRotation.TryGetValue(id, out var was))
            {
                if (_inRotation.TryAdd(id, up))
                {
                    return;
                }
            }
            else if (was == up)
            {
                return;
            }
            else if (_inRotation.TryUpdate(id, up, was))
            {
                _metrics.HealthChanged(repository.Name, id, up);
                RotationChanged?.Invoke();
                return;
            }
        }
    }

    public void ObserveAll(IProxyStateLookup state)
    {
        foreach (var cluster in state.GetClusters())
        {
            foreach (var destination in cluster.Destinations.Values)
            {
                Observe(cluster, destination);
            }
        }
    }
}

/// <summary>YARP's health updater, with every change looked at by the <see cref="HealthWatch"/>.</summary>
internal sealed class ObservingHealthUpdater(IDestinationHealthUpdater inner, HealthWatch watch) : IDestinationHealthUpdater
{
    public void SetActive(ClusterState cluster, IEnumerable<NewActiveDestinationHealth> newHealthStates)
    {
        var states = newHealthStates as IReadOnlyCollection<NewActiveDestinationHealth> ?? newHealthStates.ToArray();
        inner.SetActive(cluster, states);
        foreach (var state in states)
        {
            watch.Observe(cluster, state.Destination);
        }
    }

    public void SetPassive(ClusterState cluster, DestinationState destination, DestinationHealth newHealth, TimeSpan reactivationPeriod)
    {
        inner.SetPassive(cluster, destination, newHealth, reactivationPeriod);
        watch.Observe(cluster, destination);
    }
}
