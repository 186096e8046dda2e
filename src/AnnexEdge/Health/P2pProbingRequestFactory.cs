using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>
/// Probes a backend the way git-annex would use it: <c>POST /git-annex/{uuid}/v4/gettimestamp</c>. Only a live
/// p2phttp serving that repository answers 200, and the answer needs one of its workers, so a node whose
/// workers are all pinned (it accepts connections but answers nothing) fails the probe.
/// </summary>
internal sealed class P2pProbingRequestFactory(IOptions<AnnexEdgeOptions> options) : IProbingRequestFactory
{
    /// <summary>The clientuuid of probes when the edge has no UUID of its own.</summary>
    public const string DefaultProbeClientUuid = "00000000-0000-4000-8000-00000000ed9e";

    private readonly string _clientUuid = options.Value.Uuid ?? DefaultProbeClientUuid;

    public HttpRequestMessage CreateRequest(ClusterModel cluster, DestinationModel destination)
    {
        var uuid = cluster.Config.Metadata?.GetValueOrDefault(YarpConfigFactory.RepositoryUuidMetadata)
            ?? throw new InvalidOperationException($"cluster {cluster.Config.ClusterId} has no repository UUID");
        var address = destination.Config.Health ?? destination.Config.Address;
        var uri = new Uri($"{address.TrimEnd('/')}/git-annex/{uuid}/v4/gettimestamp?clientuuid={_clientUuid}");
        return new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
    }
}
