using System.Text;
using AnnexEdge.Clusters;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Tests.Clusters;

public sealed class TargetAnswersTests
{
    private const string ClusterUuid = "ac000000-0000-8000-8000-000000000001";
    private const string NodeUuid = "a1a1a1a1-0000-4000-8000-000000000001";
    private const string B1 = "b1b1b1b1-0000-4000-8000-000000000001";
    private const string B2 = "b2b2b2b2-0000-4000-8000-000000000002";

    private static readonly Repository Node = new("a1", NodeUuid, [Backend.For("a1", "http://127.0.0.1:1")], "PowerOfTwoChoices");

    private static readonly Repository Share = new PeerShare(
        new Peer("b", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", [Backend.For("peer:b", "http://127.0.0.1:2")], 10, ["multi"], null), [B1, B2], [NodeUuid])
        .AsTarget(new Cluster("multi", ClusterUuid, [Node], null, TimeSpan.FromSeconds(2)), 110);

    private static P2pAnswer Answer(string json) => P2pAnswer.Parse(Encoding.UTF8.GetBytes(json))!;

    [Fact]
    public void A_node_that_stored_confirms_itself_and_its_plusuuids()
    {
        var answer = Answer($$"""{"plusuuids":["{{B1}}"],"stored":true}""");

        Assert.True(TargetAnswers.Succeeded(Node, answer, TargetAnswers.Stored));
        Assert.Equal([NodeUuid, B1], TargetAnswers.Confirmed(Node, answer, TargetAnswers.Stored));
    }

    [Fact]
    public void A_peer_that_stored_confirms_only_the_nodes_it_names_never_the_cluster_uuid()
    {
        var answer = Answer($$"""{"plusuuids":["{{B1}}","{{ClusterUuid}}"],"stored":true}""");

        Assert.True(TargetAnswers.Succeeded(Share, answer, TargetAnswers.Stored));
        Assert.Equal([B1], TargetAnswers.Confirmed(Share, answer, TargetAnswers.Stored));
    }

    [Theory]
    [InlineData("""{"stored":false}""")]
    [InlineData("""{"plusuuids":["b1b1b1b1-0000-4000-8000-000000000001"],"stored":false}""")]
    [InlineData("""{"error":"no"}""")]
    public void A_failed_put_confirms_nothing(string json)
    {
        Assert.False(TargetAnswers.Succeeded(Share, Answer(json), TargetAnswers.Stored));
        Assert.Empty(TargetAnswers.Confirmed(Share, Answer(json), TargetAnswers.Stored));
        Assert.Empty(TargetAnswers.Confirmed(Node, Answer(json), TargetAnswers.Stored));
    }

    [Fact]
    public void No_answer_confirms_nothing()
    {
        Assert.False(TargetAnswers.Succeeded(Share, null, TargetAnswers.Removed));
        Assert.Empty(TargetAnswers.Confirmed(Share, null, TargetAnswers.Removed));
    }

    [Fact]
    public void A_failed_removal_still_confirms_the_nodes_it_names_as_git_annex_counts_failure_plus()
    {
        var answer = Answer($$"""{"plusuuids":["{{B1}}"],"removed":false}""");

        Assert.False(TargetAnswers.Succeeded(Share, answer, TargetAnswers.Removed));
        Assert.Equal([B1], TargetAnswers.Confirmed(Share, answer, TargetAnswers.Removed));
        Assert.Equal([B1], TargetAnswers.Confirmed(Node, answer, TargetAnswers.Removed));
    }

    [Fact]
    public void A_peers_removal_succeeded_only_when_it_names_every_node_of_its_share()
    {
        var all = Answer($$"""{"plusuuids":["{{B2}}","{{B1}}"],"removed":true}""");
        var some = Answer($$"""{"plusuuids":["{{B1}}"],"removed":true}""");

        Assert.True(TargetAnswers.Succeeded(Share, all, TargetAnswers.Removed));
        Assert.False(TargetAnswers.Succeeded(Share, some, TargetAnswers.Removed));
        Assert.Equal([B1], TargetAnswers.Confirmed(Share, some, TargetAnswers.Removed));
    }

    [Fact]
    public void A_node_that_removed_confirms_itself()
    {
        var answer = Answer("""{"removed":true}""");

        Assert.True(TargetAnswers.Succeeded(Node, answer, TargetAnswers.Removed));
        Assert.Equal([NodeUuid], TargetAnswers.Confirmed(Node, answer, TargetAnswers.Removed));
    }
}
