namespace AnnexEdge.Routing;

/// <summary>
/// One peer's share of a cluster write: the cluster's nodes at other sites whose cheapest path leads through
/// <see cref="Peer"/>, all written with one request to the cluster UUID at the peer, which fans out on its side.
/// <see cref="Bypass"/> is every other node the write reaches (this edge's own and other peers' shares), so the peer
/// never writes a node twice nor along a second path.
/// </summary>
internal sealed record PeerShare(Peer Peer, IReadOnlyList<string> Nodes, IReadOnlyList<string> Bypass)
{
    /// <summary>The share as a cluster operation's target: the cluster UUID, reached through the peer's backends.</summary>
    public Repository AsTarget(Cluster cluster, double cost) =>
        new(Peer.Name, cluster.Uuid, Peer.Backends, Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.PowerOfTwoChoices, cost, MaxLocks: 0)
        {
            Via = Peer,
            Share = this,
        };
}
