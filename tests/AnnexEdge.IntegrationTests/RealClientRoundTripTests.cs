using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests;

/// <summary>A real git-annex client copies, gets, drops and checks files through the edge.</summary>
public sealed class RealClientRoundTripTests
{
    [Fact]
    public async Task Copy_get_drop_and_fsck_of_a_small_file_work_through_the_edge()
    {
        await using var node = await P2pNode.StartAsync("node1");
        await using var edge = await EdgeHost.StartAsync(node);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var key = await client.AddRandomFileAsync("small.bin", 5000);

        (await client.GitAsync("annex", "copy", "--to", "origin", "small.bin")).EnsureSuccess("copy --to origin");
        Assert.True(await node.HasKeyAsync(key), "the node holds the copy after copy --to");

        // A local drop needs lockcontent and keeplocked on origin through the edge.
        (await client.GitAsync("annex", "drop", "small.bin")).EnsureSuccess("drop");
        (await client.GitAsync("annex", "get", "--from", "origin", "small.bin")).EnsureSuccess("get --from origin");
        (await client.GitAsync("annex", "fsck", "--from", "origin", "small.bin")).EnsureSuccess("fsck --from origin");
        (await client.GitAsync("annex", "drop", "--from", "origin", "small.bin")).EnsureSuccess("drop --from origin");
        Assert.False(await node.HasKeyAsync(key), "the node no longer holds it after drop --from");
    }

    [Fact]
    public async Task A_50_MiB_file_round_trips_through_the_edge()
    {
        await using var node = await P2pNode.StartAsync("node1");
        await using var edge = await EdgeHost.StartAsync(node);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var key = await client.AddRandomFileAsync("big.bin", 50L * 1024 * 1024 + 123);

        await RoundTripAsync(client, node, "big.bin", key);
    }

    [Fact]
    public async Task Files_round_trip_through_the_edge_to_a_repository_with_two_replicas()
    {
        await using var node = await P2pNode.StartAsync("node1");
        await node.AddServerAsync();
        var config = EdgeHost.ConfigFor(node);
        // Round robin, so that both replicas grant locks.
        config["Repositories"]![0]!["LoadBalancing"] = "RoundRobin";
        await using var edge = await EdgeHost.StartAsync(config);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);

        // Each drop needs a lock granted by one replica and kept through the same one, whichever it was.
        for (var i = 0; i < 4; i++)
        {
            var name = $"file{i}.bin";
            var key = await client.AddRandomFileAsync(name, 10_000 + i);
            await RoundTripAsync(client, node, name, key);
            // One more request after every second round trip: whether a round trip sends YARP an even or an odd number
            // of requests (a small key's putoffset is answered by the edge itself), the four locks then fall on both
            // replicas (round-robin positions 0, r, 2r+1, 3r+1).
            if (i % 2 == 1)
            {
                await P2pHttp.PostAsync($"{P2pHttp.Api(edge.Url, node.Uuid)}/v4/gettimestamp?clientuuid={P2pHttp.ClientUuid}", cancellationToken: TestContext.Current.CancellationToken);
            }
        }

        var keptBy = node.Urls.Select(u => AnnexEdge.Routing.Backend.For(node.Name, u).Id)
            .Where(id => edge.Events.All.Any(e => e.IsRequest() && e.Text("Endpoint") == "keeplocked" && e.Text("Backend") == id))
            .ToArray();
        Assert.True(keptBy.Length == 2, $"keeplocked went to {keptBy.Length} replica(s):\n{edge.Logs}");
    }

    private static async Task RoundTripAsync(AnnexClient client, P2pNode node, string name, string key)
    {
        (await client.GitAsync("annex", "copy", "--to", "origin", name)).EnsureSuccess("copy --to origin");
        Assert.True(await node.HasKeyAsync(key), "the node holds the copy after copy --to");

        // A local drop needs lockcontent and keeplocked on origin through the edge.
        (await client.GitAsync("annex", "drop", name)).EnsureSuccess("drop");
        Assert.True(await node.HasKeyAsync(key), "the node keeps its copy when the client drops its own");
        (await client.GitAsync("annex", "get", "--from", "origin", name)).EnsureSuccess("get --from origin");
        (await client.GitAsync("annex", "fsck", "--from", "origin", name)).EnsureSuccess("fsck --from origin");
        (await client.GitAsync("annex", "drop", "--from", "origin", name)).EnsureSuccess("drop --from origin");
        Assert.False(await node.HasKeyAsync(key), "the node no longer holds it after drop --from");
        (await client.GitAsync("annex", "fsck", "-q", name)).EnsureSuccess("the client's copy is intact");
    }
}
