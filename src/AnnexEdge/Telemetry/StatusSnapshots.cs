using AnnexEdge.Acme;
using AnnexEdge.Clusters;
using AnnexEdge.Directories;
using AnnexEdge.Locking;
using AnnexEdge.Peering;
using AnnexEdge.Routing;
using Yarp.ReverseProxy;

namespace AnnexEdge.Telemetry;

/// <summary>Reads the status page's <see cref="StatusSnapshot"/> from the edge's own state; no backend is asked.</summary>
internal sealed class StatusSnapshots(
    RepositoryCatalog catalog,
    IProxyStateLookup state,
    NodeClient nodes,
    ManagedDirectories managed,
    BackendLoad load,
    LockLedger locks,
    ProbeTimes probes,
    Transfers transfers,
    RecentProblems problems,
    PeerRoutes routes,
    TimeProvider time,
    IServiceProvider services)
{
    public StatusSnapshot Take()
    {
        var snapshot = catalog.Current;
        var repositories = snapshot.Repositories.Select(r =>
        {
            state.TryGetCluster(r.YarpClusterId, out var cluster);
            var backends = r.Backends.Select(b =>
            {
                var d = cluster?.Destinations.GetValueOrDefault(b.Id);
                return new BackendView(
                    b.Id,
                    b.Address,
                    d is not null && NodeClient.IsInRotation(d),
                    d?.Health.Active.ToString() ?? "",
                    d?.Health.Passive.ToString() ?? "",
                    d is null ? 0 : load.InFlight(d),
                    locks.HeldBy(b.Id),
                    d is null ? null : probes.Last(d.Model));
            }).ToArray();
            return new RepositoryView(r.Name, r.Uuid, r.MaxLocks, backends);
        }).ToArray();

        var clusters = snapshot.Clusters.Select(c => new ClusterView(
            c.Name, c.Uuid, c.Copies, c.Nodes.Select(n => new NodeView(n.Name, n.Uuid, nodes.IsLive(n), nodes.InFlight(n))).ToArray())).ToArray();

        var running = transfers.Snapshot()
            .Select(t => new TransferView(t.Transfer.Kind, t.Transfer.Target.Name, t.Transfer.Node, t.Transfer.Key, t.Transfer.Bytes, t.Started))
            .ToArray();

        var certificates = new List<CertificateView>();
        if (services.GetService<ServingCertificates>() is { } serving)
        {
            var leaf = serving.Select();
            certificates.Add(new CertificateView(serving.Domains, leaf.Subject, new DateTimeOffset(leaf.NotAfter.ToUniversalTime()), serving.IsFallback));
        }

        certificates.AddRange(services.GetRequiredService<ConfiguredCertificates>().All
            .Select(c => new CertificateView(c.Domains, c.Subject, c.NotAfter, SelfSigned: false)));

        var renewal = services.GetService<RenewalState>()?.Last is { } last ? new CertificateRenewalView(last.At, last.Succeeded, last.Problem) : null;
        var peers = routes.Table.PeerStates
            .Select(p => new PeerView(p.Peer.Name, p.Peer.Uuid, p.Peer.LinkCost, p.Peer.Nodes is null, p.Up, p.Failures, p.LastAdvertised))
            .ToArray();
        var table = routes.Table.Routes.Select(r => new RouteView(r.Destination, r.Via ?? "direct", r.Hops, r.Cost, r.Since, r.Withdrawn)).ToArray();
        return new StatusSnapshot(
            time.GetUtcNow(), snapshot.Version, repositories, clusters, managed.Status(), running, certificates, renewal, problems.Snapshot(), peers, table);
    }
}
