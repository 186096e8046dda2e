using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>
/// Probes a backend the way git-annex would use it: <c>POST /git-annex/{uuid}/v4/gettimestamp</c>. Only a live
/// p2phttp serving that repository answers 200, and the answer needs one of its workers, so a node whose
/// workers are all pinned (it accepts connections but answers nothing) fails the probe.
/// </summary>
internal sealed class P2pProbingRequestFactory(RepositoryCatalog catalog) : IProbingRequestFactory
{
    public HttpRequestMessage CreateRequest(ClusterModel cluster, DestinationModel destination)
    {
        var uuid = cluster.Config.Metadata?.GetValueOrDefault(YarpConfigFactory.RepositoryUuidMetadata)
            ?? throw new InvalidOperationException($"YARP cluster {cluster.Config.ClusterId} has no repository UUID");
        var probe = new P2pRequest { Uuid = uuid, Version = 4, Endpoint = P2pEndpoint.GetTimestamp, ClientUuid = catalog.ClientUuid };
        // Marked as a probe, so it is timed for the status page (Telemetry.ProbeTimingHandler).
        return BackendRequests.Http11(new ProbeRequest(
            HttpMethod.Post, BackendRequests.Uri(destination.Config.Health ?? destination.Config.Address, probe), destination));
    }
}
