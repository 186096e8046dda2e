using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests;

/// <summary>keeplocked is a long poll: the forwarding activity timeout must not cut a client that stays silent.</summary>
public sealed class KeepLockedLongPollTests
{
    [Fact]
    public async Task A_silent_keeplocked_outlives_the_activity_timeout_and_the_lock_stays_held()
    {
        await using var node = await P2pNode.StartAsync("node1");
        var config = EdgeHost.ConfigFor(node);
        config["Forwarding"] = new System.Text.Json.Nodes.JsonObject { ["ActivityTimeout"] = "00:00:02" };
        await using var edge = await EdgeHost.StartAsync(config);
        var edgeApi = P2pHttp.Api(edge.Url, node.Uuid);
        var (data, key) = P2pHttp.RandomObject(4096);
        await P2pHttp.PutObjectAsync(edgeApi, key, data);

        var token = await P2pHttp.LockAsync(edgeApi, key);
        await using var session = KeepLockedSession.Open(edgeApi, token);

        // Three times the activity timeout without a byte either way; the lock must hold throughout. The sleeps are
        // the scenario (a silent client), not a wait for the edge.
        for (var second = 0; second < 6; second++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
            Assert.False(session.Answered, $"keeplocked ended after {second + 1} s of silence:\n{edge.Logs}");
            if (second is 2 or 5)
            {
                await ContentLock.AssertHeldAsync(node, key);
            }
        }

        Assert.Equal((200, "{\"locked\":false}"), await session.UnlockAsync());
        await ContentLock.AssertReleasedByDroppingAsync(node, key);
    }
}
