using System.Text.Json;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// A real git-annex client that cloned the gateway repository, its annexUrl at the edge, through a whole life cycle
/// of a file in the cluster while a node goes down and comes back. The lab is its own: the test kills a node.
/// </summary>
public sealed class RealClientClusterTests
{
    private static string[] Uuids(IEnumerable<P2pNode> nodes) => nodes.Select(n => n.Uuid).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Copy_lands_on_every_node_in_one_upload_get_survives_a_stopped_node_and_drop_leaves_every_node_fsck_clean()
    {
        var ct = TestContext.Current.CancellationToken;
        // --debug: each node logs the P2P messages it receives, so the puts it got can be counted.
        await using var lab = await ClusterLab.StartAsync(
            withClient: true, nodeArgs: ["--wideopen", "--debug"]);
        var client = lab.Client;
        const long size = 20L * 1024 * 1024 + 7;
        var key = await client.AddRandomFileAsync("file.bin", size);

        (await client.GitAsync("annex", "copy", "--to", "origin-mycluster", "file.bin")).EnsureSuccess("copy --to origin-mycluster");

        Assert.Equal(Uuids(lab.Nodes), await lab.HoldersAsync(key));
        // One upload: the client sent one put, to the cluster UUID, and none to a node's UUID (each request's event
        // is logged once it is answered: the cluster put's comes after any put the client made before it)...
        await lab.Edge.EventAsync(e => e.IsRequest() && e.Text("Endpoint") == "put" && e.Text("Uuid") == lab.ClusterUuid);
        var puts = EdgeRequests(lab.Edge).Where(r => r.Endpoint == "put").Select(r => r.Uuid).ToArray();
        Assert.True(puts.SequenceEqual([lab.ClusterUuid]), $"puts logged to {string.Join(", ", puts)}:\n{lab.Edge.Logs}");
        // ...and each node received the content once, whole.
        Assert.All(lab.Nodes, n => Assert.True(NodeUploads(n).SequenceEqual([size]), n.ServerLog(0)));
        Assert.Equal(Uuids(lab.Nodes), await WhereisNodesAsync(lab));

        // A local drop locks a copy on a node through the edge; then the cheapest node, where a download starts, stops.
        (await client.GitAsync("annex", "drop", "file.bin")).EnsureSuccess("drop");
        var stopped = lab.Nodes[0];
        stopped.KillServer(0);

        (await client.GitAsync("annex", "get", "--from", "origin-mycluster", "file.bin")).EnsureSuccess("get --from origin-mycluster, node1 stopped");
        // get verified the checksum as it received; a full fsck checks the content in place once more.
        (await client.GitAsync("annex", "fsck", "file.bin")).EnsureSuccess("local fsck after get");
        Assert.True(await stopped.HasKeyAsync(key), "node1 was stopped, not emptied");

        // A drop from the cluster must reach every node: with one stopped it fails, and the stopped node keeps its copy.
        var refused = await client.GitAsync("annex", "drop", "--from", "origin-mycluster", "file.bin");
        Assert.True(refused.ExitCode != 0, "drop --from origin-mycluster with node1 stopped succeeded:\n" + refused.Output);
        Assert.Equal([stopped.Uuid], await lab.HoldersAsync(key));
        // The client recorded exactly what happened: gone from node2 and node3 (the answer's plusuuids), still on node1.
        Assert.Equal([stopped.Uuid], await WhereisNodesAsync(lab));

        await stopped.RestartServerAsync(0);
        await lab.WaitForNodeAsync(stopped, inRotation: true, ct);
        (await client.GitAsync("annex", "drop", "--from", "origin-mycluster", "file.bin")).EnsureSuccess("drop --from origin-mycluster");
        Assert.Empty(await lab.HoldersAsync(key));

        foreach (var node in lab.Nodes)
        {
            var remote = "origin-" + node.Name;
            (await client.GitAsync("annex", "fsck", "--from", remote, "file.bin")).EnsureSuccess("fsck --from " + remote);
            // Each node, asked through the edge, says the content is gone, as the client's location log does.
            var check = await client.GitAsync("annex", "checkpresentkey", key, remote);
            Assert.True(check.ExitCode == 1, $"checkpresentkey {remote}: exit {check.ExitCode}\n{check.Output}");
        }

        Assert.Empty(await WhereisNodesAsync(lab));
    }

    /// <summary>The nodes (and the cluster) that the client's location log says hold file.bin.</summary>
    private static async Task<string[]> WhereisNodesAsync(ClusterLab lab)
    {
        var json = (await lab.Client.GitAsync("annex", "whereis", "--json", "file.bin")).EnsureSuccess("whereis --json").Output;
        var holders = JsonDocument.Parse(json).RootElement.GetProperty("whereis").EnumerateArray()
            .Select(w => w.GetProperty("uuid").GetString()!).ToArray();
        // The cluster is listed exactly while some node is.
        var nodes = lab.Nodes.Select(n => n.Uuid).Where(holders.Contains).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(nodes.Length > 0, holders.Contains(lab.ClusterUuid));
        return nodes;
    }

    /// <summary>The p2phttp requests the edge logged (one event per request): endpoint and UUID.</summary>
    private static IEnumerable<(string Endpoint, string Uuid)> EdgeRequests(EdgeHost edge) =>
        edge.Events.All.Where(e => e.IsRequest() && e.Text("Endpoint") is not null).Select(e => (e.Text("Endpoint")!, e.Text("Uuid")!));

    /// <summary>
    /// The lengths of the uploads the node's p2phttp received, from its --debug log of P2P messages. A putoffset is a
    /// PUT answered with "DATA 0" and INVALID on the wire, so only non-empty DATA is a transfer.
    /// </summary>
    private static long[] NodeUploads(P2pNode node) => node.ServerLog(0).Split('\n')
        .Where(l => l.Contains("[http server]", StringComparison.Ordinal))
        .Select(l => l.Split("P2P < DATA ", 2))
        .Where(parts => parts.Length == 2)
        .Select(parts => long.Parse(parts[1].Trim(), System.Globalization.CultureInfo.InvariantCulture))
        .Where(length => length > 0)
        .ToArray();
}
