using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Locking;
using AnnexEdge.Routing;

namespace AnnexEdge.IntegrationTests;

/// <summary>
/// lockcontent and keeplocked through the edge, against two real p2phttp replicas of one repository: the lock a
/// client is told it holds is the lock a replica really holds, and only the edge's own tokens can release it.
/// </summary>
/// <remarks>
/// The proof that a lock is held is <see cref="ContentLock"/> (the repository's content lock, which both replicas
/// share); the proof that it was released by the replica that granted it is that the key can be dropped after the
/// unlock: a keeplocked sent to the other replica would leave the granting one holding it.
/// </remarks>
public sealed class StickyLockingTests
{
    private static readonly LockTokenCodec Codec = new(Convert.FromBase64String(EdgeHost.TestTokenKey));

    [Fact]
    public async Task Every_lock_granted_through_the_edge_is_held_and_released_by_the_replica_that_granted_it()
    {
        await using var node = await StartReplicatedNodeAsync();
        await using var edge = await EdgeHost.StartAsync(RoundRobin(node));
        var edgeApi = P2pHttp.Api(edge.Url, node.Uuid);
        var grantedBy = new HashSet<string>();

        for (var i = 0; i < 20; i++)
        {
            // A fresh key each time: git-annex 10.20250416 stops granting locks on one key that two p2phttp
            // processes of a repository lock in turn (after about two each, lockcontent answers locked:false).
            // Stored straight on the node, so the round robin of the edge alternates between locks only.
            var key = await PutAsync(P2pHttp.Api(node.Url, node.Uuid));
            var token = await P2pHttp.LockAsync(edgeApi, key);
            var read = Read(token, node.Uuid);
            Assert.DoesNotContain(read.BackendLockId, token);
            Assert.Equal(key, read.Key);
            grantedBy.Add(read.BackendId);

            await using var session = KeepLockedSession.Open(edgeApi, token);
            await ContentLock.AssertHeldAsync(node, key);

            Assert.False(session.Answered, "keeplocked answered while the client still holds the lock");
            var (status, body) = await session.UnlockAsync();
            Assert.Equal(200, status);
            Assert.Equal("{\"locked\":false}", body);
            // The lock was released where it was held.
            await ContentLock.AssertReleasedByDroppingAsync(node, key);
        }

        Assert.Equal(node.Urls.Select(u => Backend.For(node.Name, u).Id).ToHashSet(), grantedBy);
    }

    [Fact]
    public async Task A_tampered_foreign_or_raw_lockid_is_refused_and_leaves_the_backend_lock_held()
    {
        await using var node = await StartReplicatedNodeAsync();
        await using var edge = await EdgeHost.StartAsync(RoundRobin(node));
        var edgeApi = P2pHttp.Api(edge.Url, node.Uuid);
        var key = await PutAsync(edgeApi);
        var token = await P2pHttp.LockAsync(edgeApi, key);
        var read = Read(token, node.Uuid);
        var (_, otherKey) = P2pHttp.RandomObject(4096);

        // Tokens signed with the edge's key but for another key, client or time are what an attacker who saw a
        // token cannot make; they show that the edge checks each part, not only the signature.
        var forged = new Dictionary<string, string>
        {
            ["one payload character flipped"] = Flip(token, 10),
            ["one signature character flipped"] = Flip(token, token.Length - 3),
            ["token of another repository"] = Codec.Issue(read with { RepositoryUuid = Guid.NewGuid().ToString() }),
            ["token signed with another key"] = new LockTokenCodec(new byte[32]).Issue(read),
            ["token of the earlier format"] = OutdatedToken(node.Uuid, read.BackendId, read.BackendLockId),
            ["token for another key"] = Codec.Issue(read with { Key = otherKey }),
            ["token for another client"] = Codec.Issue(read with { Principal = LockPrincipal.User("mallory") }),
            ["token past the lock's lifetime"] = Codec.Issue(read with { IssuedAt = read.IssuedAt.AddMinutes(-11) }),
            ["the backend's raw lockid"] = read.BackendLockId,
        };

        foreach (var (what, lockId) in forged)
        {
            // The body asks to unlock at once: had the edge forwarded it, the backend would drop the lock.
            var (status, body) = await P2pHttp.PostAsync(
                $"{edgeApi}/v4/keeplocked?lockid={Uri.EscapeDataString(lockId)}&clientuuid={P2pHttp.ClientUuid}",
                new StringContent("{\"unlock\": true}\n"),
                TestContext.Current.CancellationToken);
            Assert.True(status is >= 400 and < 500, $"{what}: keeplocked answered {status} {body}");
            Assert.DoesNotContain("locked", body);
        }

        await ContentLock.AssertHeldAsync(node, key);
        await using (var session = KeepLockedSession.Open(edgeApi, token))
        {
            Assert.Equal((200, "{\"locked\":false}"), await session.UnlockAsync());
        }

        await ContentLock.AssertReleasedByDroppingAsync(node, key);
    }

    [Fact]
    public async Task A_second_edge_with_the_same_token_key_releases_a_lock_granted_through_the_first()
    {
        await using var node = await StartReplicatedNodeAsync();
        var config = RoundRobin(node);
        await using var first = await EdgeHost.StartAsync(config);
        await using var second = await EdgeHost.StartAsync(config);
        var key = await PutAsync(P2pHttp.Api(first.Url, node.Uuid));

        // Two locks, so that each replica has granted one whichever the round robin starts with.
        var tokens = new[] { await P2pHttp.LockAsync(P2pHttp.Api(first.Url, node.Uuid), key), await P2pHttp.LockAsync(P2pHttp.Api(first.Url, node.Uuid), key) };
        var sessions = tokens.Select(t => KeepLockedSession.Open(P2pHttp.Api(second.Url, node.Uuid), t)).ToArray();
        await ContentLock.AssertHeldAsync(node, key);
        foreach (var session in sessions)
        {
            Assert.False(session.Answered);
            Assert.Equal((200, "{\"locked\":false}"), await session.UnlockAsync());
            await session.DisposeAsync();
        }

        // Had the second edge sent a keeplocked to the wrong replica, the granting replica would still hold its lock.
        await ContentLock.AssertReleasedByDroppingAsync(
            node.RepositoryPath, key, () => $"{node.Logs}\n--- first edge\n{first.Logs}\n--- second edge\n{second.Logs}");
    }

    /// <remarks>
    /// What a real git-annex client does with a failed keeplocked: it starts the drop that needs the lock once it
    /// has written its first <c>{"unlock": false}</c>, and an error answer that comes after that is not looked at
    /// (the same is true of a p2phttp that dies while a client talks to it directly). So "fails visibly" means:
    /// the edge never answers as a live backend would, 200 <c>{"locked":false}</c> after the unlock; it answers
    /// 5xx. The edge notices the death of the backend when it next forwards a line of the client's body.
    /// </remarks>
    [Fact]
    public async Task Keeplocked_whose_granting_replica_died_fails_instead_of_answering_as_a_held_lock()
    {
        await using var node = await StartReplicatedNodeAsync();
        await using var edge = await EdgeHost.StartAsync(RoundRobin(node));
        var edgeApi = P2pHttp.Api(edge.Url, node.Uuid);
        var key = await PutAsync(edgeApi);

        var open = await P2pHttp.LockAsync(edgeApi, key);
        var victim = Read(open, node.Uuid).BackendId;
        var session = KeepLockedSession.Open(edgeApi, open);
        string? later = null;
        for (var i = 0; i < 4 && later is null; i++)
        {
            var token = await P2pHttp.LockAsync(edgeApi, key);
            if (Read(token, node.Uuid).BackendId == victim)
            {
                later = token;
            }
            else
            {
                await using var release = KeepLockedSession.Open(edgeApi, token);
                Assert.Equal((200, "{\"locked\":false}"), await release.UnlockAsync());
            }
        }

        Assert.NotNull(later);
        var victimIndex = node.Urls.Select(u => Backend.For(node.Name, u).Id).ToList().IndexOf(victim);
        node.KillServer(victimIndex);

        // A keeplocked open while its replica dies ends with an error when the client unlocks. Dead means its port
        // refuses connections (the kill returns when git exits; its git-annex child may take a moment more).
        await Eventually.Async(
            async () => await RefusesAsync(node.Urls[victimIndex]), TimeSpan.FromSeconds(10), $"replica {victim} refuses connections");
        var (openStatus, openBody) = await session.UnlockAsync().WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        await session.DisposeAsync();
        Assert.True(openStatus >= 500, $"open keeplocked answered {openStatus} {openBody}");
        Assert.DoesNotContain("locked", openBody);

        // A keeplocked sent after the replica died, that unlocks normally, is not answered as a released lock.
        await using var afterDeath = KeepLockedSession.Open(edgeApi, later);
        var (status, body) = await afterDeath.UnlockAsync();
        Assert.True(status >= 500, $"keeplocked to a dead replica answered {status} {body}\n{edge.Logs}");
        Assert.DoesNotContain("locked", body);

        // The other replica still serves the repository.
        Assert.True(await P2pHttp.IsPresentAsync(edgeApi, key));
    }

    private static async Task<P2pNode> StartReplicatedNodeAsync()
    {
        var node = await P2pNode.StartAsync("node1", jobs: 8);
        await node.AddServerAsync(jobs: 8);
        return node;
    }

    /// <summary>
    /// Round robin, so that consecutive locks come from both replicas; the test client, one address, may hold every
    /// slot of a replica (it plays the part of several clients).
    /// </summary>
    private static JsonObject RoundRobin(P2pNode node)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Repositories"]![0]!["LoadBalancing"] = "RoundRobin";
        config["Locking"]!["MaxShareOfSlots"] = 1.0;
        return config;
    }

    private static async Task<string> PutAsync(string edgeApi)
    {
        var (data, key) = P2pHttp.RandomObject(4096);
        await P2pHttp.PutObjectAsync(edgeApi, key, data);
        return key;
    }

    private static async Task<bool> RefusesAsync(string url)
    {
        var uri = new Uri(url);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(uri.Host, uri.Port, TestContext.Current.CancellationToken);
            return false;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return true;
        }
    }

    private static LockToken Read(string token, string repositoryUuid)
    {
        Assert.Equal(LockTokenRead.Valid, Codec.TryRead(token, repositoryUuid, out var read));
        return read!;
    }

    /// <summary>A token as edges before lock tokens v2 signed them: repository, backend and lockid only.</summary>
    private static string OutdatedToken(string repositoryUuid, string backendId, string backendLockId)
    {
        var payload = System.Text.Encoding.UTF8.GetBytes($"{repositoryUuid}\n{backendId}\n{backendLockId}");
        var mac = System.Security.Cryptography.HMACSHA256.HashData(Convert.FromBase64String(EdgeHost.TestTokenKey), payload).AsSpan(0, 16).ToArray();
        return "ae1." + System.Buffers.Text.Base64Url.EncodeToString(payload) + "." + System.Buffers.Text.Base64Url.EncodeToString(mac);
    }

    private static string Flip(string token, int index)
    {
        var chars = token.ToCharArray();
        chars[index] = chars[index] == 'A' ? 'B' : 'A';
        return new string(chars);
    }
}
