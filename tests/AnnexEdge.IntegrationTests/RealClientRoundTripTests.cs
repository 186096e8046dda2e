using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests;

/// <summary>A real git-annex client copies, gets, drops and checks files through the edge.</summary>
public sealed class RealClientRoundTripTests
{
    [Fact]
    public async Task Copy_get_drop_and_fsck_of_a_small_file_work_through_the_edge()
    {
        await using var node = await P2pNode.StartAsync("node1");
        await using var edge = await EdgeProcess.StartAsync(node);
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
}
