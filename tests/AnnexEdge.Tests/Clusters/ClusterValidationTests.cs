using AnnexEdge.Configuration;

namespace AnnexEdge.Tests.Clusters;

public sealed class ClusterValidationTests
{
    private const string GatewayUuid = "99999999-9999-4999-8999-999999999999";
    private const string ClusterUuid = "ac1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f80";

    private static AnnexEdgeOptions Valid() => new()
    {
        Uuid = GatewayUuid,
        Repositories =
        [
            Repo("node1", "11111111-1111-4111-8111-111111111111"),
            Repo("node2", "22222222-2222-4222-8222-222222222222"),
            Repo("node3", "33333333-3333-4333-8333-333333333333"),
        ],
        Clusters = [new ClusterOptions { Name = "mycluster", Uuid = ClusterUuid, Nodes = ["node1", "node2", "node3"] }],
    };

    private static RepositoryOptions Repo(string name, string uuid) => new()
    {
        Name = name,
        Uuid = uuid,
        Backends = ["http://127.0.0.1:9417"],
    };

    private static IReadOnlyList<string> Errors(Action<AnnexEdgeOptions> change)
    {
        var options = Valid();
        change(options);
        return AnnexEdgeOptionsValidator.Errors(options);
    }

    private static void AssertSingleError(IReadOnlyList<string> errors, params string[] fragments)
    {
        var error = Assert.Single(errors);
        foreach (var fragment in fragments)
        {
            Assert.Contains(fragment, error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_cluster_of_configured_nodes_with_a_gateway_uuid_is_valid()
    {
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(Valid()));
    }

    [Theory]
    // Version 4 (as annex.uuid of an ordinary repository).
    [InlineData("ac1f5c3e-2b44-4d01-9a7e-0c3b5d6e7f80")]
    // Version 8 but not starting with "ac".
    [InlineData("bc1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f80")]
    [InlineData("AC1F5C3E-2B44-8D01-9A7E-0C3B5D6E7F80")]
    [InlineData("ac1f5c3e2b448d019a7e0c3b5d6e7f80")]
    [InlineData("")]
    public void A_cluster_uuid_must_be_a_version_8_uuid_starting_with_ac(string uuid)
    {
        AssertSingleError(Errors(o => o.Clusters[0].Uuid = uuid), "Clusters[0] (mycluster)", "not a cluster UUID");
    }

    [Fact]
    public void A_cluster_uuid_may_not_be_a_repository_or_the_gateway_uuid()
    {
        AssertSingleError(Errors(o => o.Repositories[0].Uuid = ClusterUuid), "already the UUID of a repository or of the edge");
        AssertSingleError(Errors(o => o.Uuid = ClusterUuid), "already the UUID of a repository or of the edge");
    }

    [Fact]
    public void A_node_that_is_not_a_configured_repository_is_named()
    {
        AssertSingleError(Errors(o => o.Clusters[0].Nodes.Add("node4")), "node \"node4\" is not the Name of any repository");
    }

    [Fact]
    public void A_node_listed_twice_is_named_whatever_its_case()
    {
        AssertSingleError(Errors(o => o.Clusters[0].Nodes.Add("NODE2")), "node \"node2\" is listed twice");
    }

    [Fact]
    public void A_cluster_without_nodes_is_refused()
    {
        AssertSingleError(Errors(o => o.Clusters[0].Nodes.Clear()), "Nodes is empty");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Copies_between_one_and_the_number_of_nodes_are_valid(int copies)
    {
        Assert.Empty(Errors(o => o.Clusters[0].Copies = copies));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(4)]
    public void Copies_outside_one_to_the_number_of_nodes_are_refused(int copies)
    {
        AssertSingleError(Errors(o => o.Clusters[0].Copies = copies), $"Copies {copies} must be between 1 and the number of nodes (3)");
    }

    [Fact]
    public void A_cluster_needs_the_gateway_uuid()
    {
        AssertSingleError(Errors(o => o.Uuid = null), "AnnexEdge:Uuid is missing");
    }

    [Fact]
    public void Without_clusters_the_gateway_uuid_is_optional()
    {
        Assert.Empty(Errors(o =>
        {
            o.Uuid = null;
            o.Clusters.Clear();
        }));
    }

    [Fact]
    public void Two_clusters_with_one_uuid_or_one_name_are_refused()
    {
        var sameUuid = Errors(o => o.Clusters.Add(new ClusterOptions { Name = "other", Uuid = ClusterUuid, Nodes = ["node1"] }));
        AssertSingleError(sameUuid, "Clusters[1] (other)", "already used by AnnexEdge:Clusters[0]");

        var sameName = Errors(o => o.Clusters.Add(new ClusterOptions { Name = "MyCluster", Uuid = "ac000000-0000-8000-8000-000000000002", Nodes = ["node1"] }));
        AssertSingleError(sameName, "Clusters[1] (MyCluster)", "already used by AnnexEdge:Clusters[0]");
    }

    [Fact]
    public void A_cluster_named_like_a_repository_is_refused()
    {
        AssertSingleError(Errors(o => o.Clusters[0].Name = "node1"), "already the name of a repository");
    }

    [Fact]
    public void A_negative_timestamp_skew_margin_is_refused()
    {
        AssertSingleError(Errors(o => o.Clusters[0].TimestampSkewMargin = TimeSpan.FromSeconds(-1)), "TimestampSkewMargin must not be negative");
        Assert.Empty(Errors(o => o.Clusters[0].TimestampSkewMargin = TimeSpan.Zero));
    }
}
