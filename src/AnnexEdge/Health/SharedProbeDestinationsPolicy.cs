using AnnexEdge.Clusters;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>
/// The destinations of a repository of a directory that no health check calls unhealthy. YARP's own policy ignores
/// active health where YARP's active probes are off, and for these they are: <see cref="SharedBackendProber"/> sets it.
/// (The interface spells the method so in YARP 2.3.)
/// </summary>
internal sealed class SharedProbeDestinationsPolicy : IAvailableDestinationsPolicy
{
    public const string PolicyName = "AnnexEdgeSharedProbe";

    public string Name => PolicyName;

    public IReadOnlyList<DestinationState> GetAvailalableDestinations(ClusterConfig config, IReadOnlyList<DestinationState> allDestinations) =>
        allDestinations.All(NodeClient.IsInRotation) ? allDestinations : allDestinations.Where(NodeClient.IsInRotation).ToArray();
}
