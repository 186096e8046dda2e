using System.Text.Json;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Peering;

/// <summary>
/// git-annex's own gateway as a peer: one cluster (made once with <c>initcluster</c>), served at site A by the edge
/// (one real p2phttp node) and at site B by <c>git annex p2phttp</c> on a repository extended to the cluster
/// with <c>extendcluster</c>, whose nodes are its remotes. The edge knows site B as a peer with <c>Nodes</c>. A real
/// git-annex client reaches the whole cluster through the edge.
/// </summary>
public sealed class GitAnnexGatewayPeerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static async Task<(ClusterLab Lab, GitAnnexGateway SiteB)> StartAsync()
    {
        var siteB = new GitAnnexGateway("siteb", "b1", "b2");
        ClusterLab? lab = null;
        try
        {
            lab = await ClusterLab.StartAsync(
                withClient: true,
                config =>
                {
                    config["Peers"] = new JsonArray(siteB.PeerConfig(ClusterLab.ClusterName));
                    config["Routing"] = new JsonObject { ["RefreshInterval"] = "00:00:00.300", ["LinkFailures"] = 2 };
                },
                nodeCount: 1);
            await siteB.StartAsync(lab);

            // The client learns site B's nodes from the lab's gateway (extended to site B), as a user's fetch would.
            await lab.Client.GitAsync("annex", "sync", "-q", "--no-content");
            return (lab, siteB);
        }
        catch
        {
            await siteB.DisposeAsync();
            if (lab is not null)
            {
                await lab.DisposeAsync();
            }

            throw;
        }
    }

    private static int Requests(EdgeHost edge, string endpoint, string key) =>
        edge.Events.All.Count(e => e.IsRequest("POST", "/" + endpoint) && e.Text(RequestLogProperties.Key) == key);

    private static string Logs(ClusterLab lab, GitAnnexGateway siteB) => $"{lab.Logs}\n--- git-annex gateway {siteB.Name}\n{siteB.Logs}";

    [Fact]
    public async Task A_copy_to_the_cluster_through_the_edge_reaches_the_git_annex_gateways_nodes_with_the_edge_in_bypass_and_a_drop_removes_it_there()
    {
        var (lab, siteB) = await StartAsync();
        await using var _ = lab;
        await using var __ = siteB;
        var key = await lab.Client.AddRandomFileAsync("file.bin", 600_000);

        (await lab.Client.GitAsync("annex", "copy", "--to", "origin-" + ClusterLab.ClusterName, "file.bin")).EnsureSuccess("copy --to the cluster");

        Assert.Equal(lab.Nodes.Select(n => n.Uuid).Order().ToArray(), await lab.HoldersAsync(key));
        foreach (var node in siteB.NodeUuids.Keys)
        {
            Assert.True(await siteB.NodeHasKeyAsync(node, key), $"{node} at site B holds the file\n{Logs(lab, siteB)}");
        }

        // git-annex's gateway was asked once, with the edge in bypass: it connected to its own nodes only, not back to
        // the edge (its remote "edge", whose cluster it would otherwise reach as "edge-mycluster").
        var (remotes, bypass) = Assert.Single(siteB.ClusterConnections);
        Assert.Equal(["b1", "b2"], remotes.Order());
        Assert.Contains(lab.GatewayUuid, bypass);
        await lab.Edge.EventAsync(EdgeEventIds.ClusterPutThroughPeer, e => e.Text("Peer") == siteB.Name);
        Assert.Equal(1, Requests(lab.Edge, "put", key));

        // The client's location log names site B's nodes: the edge passed on what git-annex's gateway confirmed.
        var json = (await lab.Client.GitAsync("annex", "whereis", "--json", "file.bin")).EnsureSuccess("whereis --json").Output;
        var holders = JsonDocument.Parse(json).RootElement.GetProperty("whereis").EnumerateArray().Select(w => w.GetProperty("uuid").GetString()!).ToArray();
        Assert.Superset(siteB.NodeUuids.Values.ToHashSet(), holders.ToHashSet());

        // A drop from the cluster removes it at both sites (the client keeps its own copy, so nothing is at risk).
        (await lab.Client.GitAsync("annex", "drop", "--from", "origin-" + ClusterLab.ClusterName, "file.bin")).EnsureSuccess("drop --from the cluster");
        Assert.Empty(await lab.HoldersAsync(key));
        foreach (var node in siteB.NodeUuids.Keys)
        {
            Assert.False(await siteB.NodeHasKeyAsync(node, key), $"{node} at site B no longer holds the file\n{Logs(lab, siteB)}");
        }

        await Eventually.Async(() => Requests(lab.Edge, "remove", key) >= 1, Deadline, "the remove logged", () => lab.Edge.Logs);
        Assert.All(siteB.ClusterConnections, c => Assert.Contains(lab.GatewayUuid, c.Bypass));
    }

    [Fact]
    public async Task A_lock_on_a_git_annex_gateways_node_through_the_edge_is_held_by_that_node_until_the_client_unlocks()
    {
        var (lab, siteB) = await StartAsync();
        await using var _ = lab;
        await using var __ = siteB;
        var key = await lab.Client.AddRandomFileAsync("file.bin", 100_000);
        (await lab.Client.GitAsync("annex", "copy", "--to", "origin-" + ClusterLab.ClusterName, "file.bin")).EnsureSuccess("copy --to the cluster");
        var (node, uuid) = siteB.NodeUuids.First();
        var api = P2pHttp.Api(lab.Edge.Url, uuid);

        // git-annex's gateway grants a lock on its node; the edge hands the client its own token for it.
        var token = await P2pHttp.LockAsync(api, key);
        await using (var session = KeepLockedSession.Open(api, token))
        {
            await ContentLock.AssertHeldAsync(siteB.NodePath(node), key);
            Assert.False(session.Answered, "keeplocked answered while the client still holds the lock");
            var (status, body) = await session.UnlockAsync();
            Assert.Equal((200, "{\"locked\":false}"), (status, body));
        }

        await ContentLock.AssertReleasedByDroppingAsync(siteB.NodePath(node), key, () => Logs(lab, siteB));
    }

    [Fact]
    public async Task A_git_annex_gateway_that_stops_answering_its_probes_has_its_nodes_withdrawn_and_a_cluster_put_no_longer_waits_for_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var (lab, siteB) = await StartAsync();
        await using var _ = lab;
        await using var __ = siteB;
        var b1 = siteB.NodeUuids["b1"];
        Assert.Null((await lab.Edge.RouteAsync(b1))!["withdrawn"]);

        siteB.Stop();

        await Eventually.Async(async () => await lab.Edge.RouteAsync(b1) is { } r && r["withdrawn"] is not null, Deadline, "b1 withdrawn", () => Logs(lab, siteB));
        Assert.Equal("link to siteb down (2 failed probes)", (string?)(await lab.Edge.RouteAsync(b1))!["withdrawn"]);
        await lab.Edge.EventAsync(EdgeEventIds.PeerFetchFailed, e => e.Text("Peer") == siteB.Name);

        // The cluster's put stores on the edge's node and names only it; site B is not tried.
        var content = TestObject.Random(50_000);
        var answer = await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);
        Assert.True(answer.GetProperty("stored").GetBoolean(), answer.ToString());
        Assert.Equal([lab.Nodes[0].Uuid], answer.GetProperty("plusuuids").EnumerateArray().Select(u => u.GetString()));
        Assert.DoesNotContain(lab.Edge.Events.All, e => e.EventId() == EdgeEventIds.ClusterPutThroughPeer);
    }

    [Fact]
    public async Task Testremote_passes_on_the_cluster_through_the_edge_with_a_git_annex_gateway_as_a_peer()
    {
        var (lab, siteB) = await StartAsync();
        await using var _ = lab;
        await using var __ = siteB;

        // --fast: git-annex's smaller set (stores, resumed retrievals, removes, export), about 125 tests at 20 KiB.
        var result = await lab.Client.GitAsync("annex", "testremote", "origin-" + ClusterLab.ClusterName, "--fast", "--size", "20KiB");

        Assert.True(result.ExitCode == 0, $"testremote failed:\n{result.Output}\n{Logs(lab, siteB)}");
        Assert.Contains("tests passed", result.Output, StringComparison.Ordinal);

        // Site B took part in every write, and was never asked without the edge in bypass.
        var connections = siteB.ClusterConnections;
        Assert.NotEmpty(connections);
        Assert.All(connections, c => Assert.Contains(lab.GatewayUuid, c.Bypass));
        Assert.All(connections, c => Assert.Equal(["b1", "b2"], c.Remotes.Order()));
    }
}
