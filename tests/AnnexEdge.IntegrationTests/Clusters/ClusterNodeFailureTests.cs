using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// Cluster requests while nodes die or hold locks. Each test kills or wedges nodes, so each has a lab of its own.
/// </summary>
public sealed class ClusterNodeFailureTests
{
    private static string[] PlusUuids(JsonElement answer) =>
        answer.GetProperty("plusuuids").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToArray();

    private static string[] Uuids(params P2pNode[] nodes) => nodes.Select(n => n.Uuid).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Put_with_a_dead_node_is_stored_on_the_live_nodes_and_names_only_them()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var lab = await ClusterLab.StartAsync(withClient: false);
        var dead = lab.Nodes[2];
        dead.KillServer(0);

        // At once (the edge has not noticed yet), and once its health checks have taken the node out.
        foreach (var noticed in new[] { false, true })
        {
            if (noticed)
            {
                await lab.WaitForNodeAsync(dead, inRotation: false, ct);
            }

            var content = TestObject.Random(1024 * 1024 + 3);

            var stored = await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);

            Assert.True(stored.GetProperty("stored").GetBoolean(), stored.ToString());
            Assert.Equal(Uuids(lab.Nodes[0], lab.Nodes[1]), PlusUuids(stored));
            Assert.Equal(Uuids(lab.Nodes[0], lab.Nodes[1]), await lab.HoldersAsync(content.Key));
        }
    }

    [Fact]
    public async Task A_node_killed_mid_upload_is_left_out_and_the_others_store_the_whole_object()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var lab = await ClusterLab.StartAsync(withClient: false);
        var victim = lab.Nodes[1];
        var content = new GeneratedContent(200L * 1024 * 1024, seed: 4);
        var killed = false;

        var body = content.Body(async written =>
        {
            if (!killed && written >= 50L * 1024 * 1024)
            {
                killed = true;
                victim.KillServer(0);
            }

            // Slow enough that the kill lands while every node is still receiving.
            await Task.Delay(2, ct);
        });
        var stored = await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content.Key, content.Length, body, ct);

        Assert.True(killed);
        Assert.True(stored.GetProperty("stored").GetBoolean(), stored + "\n" + lab.Logs);
        Assert.Equal(Uuids(lab.Nodes[0], lab.Nodes[2]), PlusUuids(stored));
        Assert.Equal(Uuids(lab.Nodes[0], lab.Nodes[2]), await lab.HoldersAsync(content.Key));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_download_whose_node_dies_mid_body_is_finished_from_another_node()
    {
        var ct = TestContext.Current.CancellationToken;
        // A stall of node2's answer (p2phttp's own now and then, on the first GET of a key) costs 20 s before the
        // edge asks it again, not the default 2 minutes.
        await using var lab = await ClusterLab.StartAsync(
            withClient: false, c => c["Forwarding"] = new JsonObject { ["ActivityTimeout"] = "00:00:20" });
        var content = new GeneratedContent(300L * 1024 * 1024, seed: 5);
        // node1 (the cheapest, so the edge starts there) and node2 hold it; node3 does not.
        foreach (var node in lab.Nodes.Take(2))
        {
            await AddLocallyAsync(node, content, ct);
        }

        using var response = await lab.Http.GetAsync(
            ClusterLab.RequestUrl(lab.Edge, lab.ClusterUuid, "v4", "key/" + content.Key), HttpCompletionOption.ResponseHeadersRead, ct);
        response.EnsureSuccessStatusCode();
        Assert.Equal(content.Length.ToString(), response.Headers.GetValues("X-git-annex-data-length").Single());
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long received = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            var before = received;
            received += read;
            const long killAt = 32L * 1024 * 1024;
            if (before < killAt && received >= killAt)
            {
                // Read slowly so far, so node1 is still sending (a 300 MiB body cannot sit in buffers): kill it mid-body.
                lab.Nodes[0].KillServer(0);
            }
            else if (received < killAt && before / (1024 * 1024) != received / (1024 * 1024))
            {
                await Task.Delay(20, ct);
            }
        }

        Assert.Equal(content.Length, received);
        Assert.Equal(content.Sha256, hash.GetHashAndReset());
        await lab.Edge.EventAsync(EdgeEventIds.ClusterDownloadResumed, e => e.Text("Node") == lab.Nodes[1].Name);

        // Metrics say which node served what: node1 failed mid-body, node2 sent the rest, none is in flight now.
        var metrics = PrometheusText.Parse(await lab.Http.GetStringAsync(lab.Edge.Url + "/metrics", ct));
        (string, string) Node(int i) => ("node", lab.Nodes[i].Name);
        var fromFirst = metrics.Value("annexedge_node_received_bytes_total", Node(0)) ?? 0;
        var fromSecond = metrics.Value("annexedge_node_received_bytes_total", Node(1)) ?? 0;
        Assert.InRange(fromFirst, 32.0 * 1024 * 1024, content.Length - 1);
        Assert.Equal(content.Length, fromFirst + fromSecond);
        Assert.Equal(1, metrics.Value("annexedge_node_download_duration_seconds_count", Node(0), ("outcome", "failed")));
        Assert.Equal(1, metrics.Value("annexedge_node_download_duration_seconds_count", Node(1), ("outcome", "complete")));
        Assert.Equal(0, metrics.Value("annexedge_node_downloads_in_flight"));
    }

    [Fact]
    public async Task Remove_while_one_node_holds_a_lock_removes_from_the_others_and_says_not_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        // p2phttp never answers a remove of content locked in the same process; the edge waits NodeAnswerTimeout for it.
        await using var lab = await ClusterLab.StartAsync(
            withClient: false, c => c["Forwarding"] = new JsonObject { ["NodeAnswerTimeout"] = "00:00:05" });
        var content = TestObject.Random(300_000);
        await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);
        var lockedNode = lab.Nodes[1];

        // A client locks node2's copy through the edge and keeps the lock, as git-annex does while dropping elsewhere.
        var locked = await lab.PostAsync(lab.Edge, lockedNode.Uuid, "v4", "lockcontent", "&key=" + content.Key, ct);
        Assert.True(locked.GetProperty("locked").GetBoolean(), locked.ToString());
        await using var keepLocked = KeepLocked.Open(lab, lockedNode.Uuid, locked.GetProperty("lockid").GetString()!, ct);

        var removed = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "remove", "&key=" + content.Key, ct);

        Assert.False(removed.GetProperty("removed").GetBoolean(), removed.ToString());
        Assert.Equal(Uuids(lab.Nodes[0], lab.Nodes[2]), PlusUuids(removed));
        Assert.Equal([lockedNode.Uuid], await lab.HoldersAsync(content.Key));
        Assert.Equal("""{"locked":false}""", (await keepLocked.UnlockAsync()).GetRawText());
    }

    /// <summary>Puts the content into a node's repository with git-annex itself, as if a client had stored it there.</summary>
    private static async Task AddLocallyAsync(P2pNode node, GeneratedContent content, CancellationToken ct)
    {
        var path = Path.Combine(node.RepositoryPath, "big.bin");
        await using (var file = File.Create(path))
        {
            await content.WriteToAsync(file, ct: ct);
        }

        (await node.GitAsync("annex", "add", "-q", "big.bin")).EnsureSuccess("git annex add");
        Assert.Equal(content.Key, (await node.GitAsync("annex", "lookupkey", "big.bin")).Output.Trim());
    }
}
