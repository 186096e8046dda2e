using AnnexEdge.Peering;
using AnnexEdge.Routing;

namespace AnnexEdge.Tests.Peering;

public sealed class PeerSharesTests
{
    private const string Gateway = "99999999-9999-4999-8999-999999999999";
    private const string Local1 = "a1a1a1a1-0000-4000-8000-000000000001";
    private const string Local2 = "a2a2a2a2-0000-4000-8000-000000000002";
    private const string B1 = "b1b1b1b1-0000-4000-8000-000000000001";
    private const string B2 = "b2b2b2b2-0000-4000-8000-000000000002";
    private const string C1 = "c1c1c1c1-0000-4000-8000-000000000001";

    private static readonly Peer PeerB = PeerNamed("b", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb");
    private static readonly Peer PeerC = PeerNamed("c", "cccccccc-cccc-4ccc-8ccc-cccccccccccc");

    private static Peer PeerNamed(string name, string uuid) =>
        new(name, uuid, [Backend.For("peer:" + name, "http://127.0.0.1:1")], 10, ["multi"], null);

    private static Repository Remote(string uuid, Peer via, double cost = 110) =>
        new(via.Name, uuid, via.Backends, "PowerOfTwoChoices", cost, MaxLocks: 0) { Via = via };

    [Fact]
    public void The_nodes_behind_each_peer_are_written_with_one_request_to_that_peer()
    {
        var shares = PeerShares.Plan([Local1], [Remote(B2, PeerB), Remote(C1, PeerC), Remote(B1, PeerB)], []);

        Assert.Equal([("b", new[] { B1, B2 }), ("c", new[] { C1 })], shares.Select(s => (s.Peer.Name, s.Nodes.ToArray())));
    }

    [Fact]
    public void Each_peer_is_told_to_bypass_every_node_written_otherwise_and_what_the_request_bypassed_already()
    {
        var shares = PeerShares.Plan([Local1, Local2], [Remote(B1, PeerB), Remote(B2, PeerB), Remote(C1, PeerC)], [Gateway]);

        var b = shares.Single(s => s.Peer == PeerB);
        var c = shares.Single(s => s.Peer == PeerC);
        Assert.Equal(new[] { Gateway, Local1, Local2, C1 }.Order(), b.Bypass.Order());
        Assert.Equal(new[] { Gateway, Local1, Local2, B1, B2 }.Order(), c.Bypass.Order());
    }

    [Fact]
    public void A_node_offered_through_two_peers_goes_through_the_cheaper_only()
    {
        var shares = PeerShares.Plan([], [Remote(C1, PeerB, cost: 130), Remote(C1, PeerC, cost: 110)], []);

        var only = Assert.Single(shares);
        Assert.Equal(PeerC, only.Peer);
        Assert.Equal([C1], only.Nodes);
        Assert.DoesNotContain(C1, only.Bypass);
    }

    [Fact]
    public void A_node_this_edge_has_or_the_request_bypassed_is_never_written_through_a_peer()
    {
        var shares = PeerShares.Plan([Local1], [Remote(Local1, PeerB), Remote(B1, PeerB), Remote(C1, PeerC)], [C1]);

        var only = Assert.Single(shares);
        Assert.Equal([B1], only.Nodes);
    }

    [Fact]
    public void No_remote_nodes_no_shares()
    {
        Assert.Empty(PeerShares.Plan([Local1], [], [Gateway]));
    }

    [Fact]
    public void A_share_is_the_cluster_uuid_at_the_peer()
    {
        var cluster = new Cluster("multi", "ac000000-0000-8000-8000-000000000001", [], null, TimeSpan.FromSeconds(2));
        var share = new PeerShare(PeerB, [B1], [Local1]);

        var target = share.AsTarget(cluster, 110);

        Assert.Equal((cluster.Uuid, PeerB.YarpClusterId, share), (target.Uuid, target.YarpClusterId, target.Share));
    }
}
