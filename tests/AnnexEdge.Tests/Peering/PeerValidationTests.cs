using AnnexEdge.Configuration;

namespace AnnexEdge.Tests.Peering;

public sealed class PeerValidationTests
{
    private const string GatewayUuid = "99999999-9999-4999-8999-999999999999";
    private const string PeerUuid = "88888888-8888-4888-8888-888888888888";
    private const string ClusterUuid = "ac1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f80";
    private const string Node1 = "11111111-1111-4111-8111-111111111111";

    private static AnnexEdgeOptions Valid() => new()
    {
        Uuid = GatewayUuid,
        Repositories = [new RepositoryOptions { Name = "node1", Uuid = Node1, Backends = ["http://127.0.0.1:9417"] }],
        Clusters = [new ClusterOptions { Name = "mycluster", Uuid = ClusterUuid, Nodes = ["node1"] }],
        Peers = [new PeerOptions { Name = "site2", Uuid = PeerUuid, Backends = ["https://edge2.example.org"], Clusters = ["mycluster"] }],
    };

    private static void AssertSingleError(Action<AnnexEdgeOptions> change, params string[] fragments)
    {
        var options = Valid();
        change(options);
        var error = Assert.Single(AnnexEdgeOptionsValidator.Errors(options));
        foreach (var fragment in fragments)
        {
            Assert.Contains(fragment, error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_annexedge_peer_and_a_git_annex_gateway_peer_are_valid()
    {
        var options = Valid();
        options.Peers.Add(new PeerOptions
        {
            Name = "lab", Uuid = "77777777-7777-4777-8777-777777777777", Backends = ["http://10.0.0.9:9417"], Clusters = ["mycluster"],
            Nodes = ["66666666-6666-4666-8666-666666666666"], BackendUser = "edge", BackendPassword = "secret",
        });
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Peers_need_the_edges_own_uuid()
    {
        var options = Valid();
        options.Uuid = null;
        options.Clusters = [];
        Assert.Contains(AnnexEdgeOptionsValidator.Errors(options), e => e.StartsWith("AnnexEdge:Uuid is missing: an edge with Peers", StringComparison.Ordinal));
    }

    [Fact]
    public void A_peer_uuid_must_be_a_uuid() =>
        AssertSingleError(o => o.Peers[0].Uuid = "edge2", "Peers[0] (site2)", "is not a UUID");

    [Theory]
    [InlineData(GatewayUuid)]
    [InlineData(Node1)]
    [InlineData(ClusterUuid)]
    public void A_peer_uuid_is_not_this_edges_repository_cluster_or_own(string uuid) =>
        AssertSingleError(o => o.Peers[0].Uuid = uuid, "Peers[0] (site2)", "is already the UUID");

    [Theory]
    [InlineData("node1")]
    [InlineData("mycluster")]
    public void A_peer_name_is_not_a_repository_or_cluster_name(string name) =>
        AssertSingleError(o => o.Peers[0].Name = name, "Peers[0]", "already the name of a repository or cluster");

    [Fact]
    public void Two_peers_need_two_names() =>
        AssertSingleError(
            o => o.Peers.Add(new PeerOptions { Name = "SITE2", Uuid = "77777777-7777-4777-8777-777777777777", Backends = ["http://a:1"], Clusters = ["mycluster"] }),
            "Peers[1] (SITE2)", "already used by AnnexEdge:Peers[0]");

    [Fact]
    public void A_peer_needs_backends() =>
        AssertSingleError(o => o.Peers[0].Backends = [], "Peers[0] (site2)", "Backends is empty");

    [Fact]
    public void A_peer_backend_is_a_base_url() =>
        AssertSingleError(o => o.Peers[0].Backends = ["https://edge2/git-annex/"], "Backends[0]", "base URL");

    [Fact]
    public void A_peer_link_cost_is_not_negative() =>
        AssertSingleError(o => o.Peers[0].LinkCost = -1, "LinkCost -1");

    [Fact]
    public void A_cluster_that_peers_serve_too_may_keep_more_copies_than_it_has_nodes_here()
    {
        var options = Valid();
        options.Clusters[0].Copies = 3;
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));

        options.Peers.Clear();
        Assert.Contains("Copies 3 must be between 1 and the number of nodes (1); more only when Peers serve the cluster too", Assert.Single(AnnexEdgeOptionsValidator.Errors(options)));
    }

    [Fact]
    public void A_peer_lock_budget_is_not_negative() =>
        AssertSingleError(o => o.Peers[0].MaxLocks = -1, "Peers[0] (site2)", "MaxLocks -1 must be 0 or more");

    [Fact]
    public void A_peer_names_clusters_of_this_edge()
    {
        AssertSingleError(o => o.Peers[0].Clusters = [], "Clusters is empty");
        AssertSingleError(o => o.Peers[0].Clusters = ["other"], "cluster \"other\" is not the Name of any cluster");
    }

    [Fact]
    public void A_git_annex_gateway_peers_nodes_are_uuids_not_reached_directly()
    {
        AssertSingleError(o => o.Peers[0].Nodes = ["node9"], "Nodes entry \"node9\" is not a UUID");
        AssertSingleError(o => o.Peers[0].Nodes = [Node1], $"node {Node1} is a repository of this edge");
        AssertSingleError(o => o.Peers[0].Nodes = [], "Nodes is empty", "leave Nodes out");
    }

    [Fact]
    public void Peer_credentials_go_together() =>
        AssertSingleError(o => o.Peers[0].BackendUser = "edge", "BackendUser and BackendPassword go together");

    [Fact]
    public void Routing_options_are_checked()
    {
        AssertSingleError(o => o.Routing.RefreshInterval = TimeSpan.Zero, "Routing:RefreshInterval");
        AssertSingleError(o => o.Routing.MaxRouteAge = o.Routing.RefreshInterval, "Routing:MaxRouteAge", "longer than RefreshInterval");
        AssertSingleError(o => o.Routing.MaxHops = 0, "Routing:MaxHops 0");
        AssertSingleError(o => o.Routing.LinkFailures = 0, "Routing:LinkFailures 0");
    }
}
