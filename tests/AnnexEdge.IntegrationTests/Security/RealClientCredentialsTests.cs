using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>A real git-annex client through an edge that admits only users.</summary>
public sealed class RealClientCredentialsTests
{
    private const string Password = "client-pw";

    [Fact]
    public async Task A_client_copies_and_gets_with_credentials_and_is_refused_without_or_with_too_little()
    {
        await using var node = await P2pNode.StartAsync("node1");
        var config = EdgeHost.ConfigFor(node);
        var hash = PasswordHash.Create(Password, PasswordHash.MinimumIterations);
        config["Users"] = new JsonArray(
            new JsonObject { ["Name"] = "writer", ["PasswordHash"] = hash, ["Access"] = new JsonObject { ["node1"] = "full" } },
            new JsonObject { ["Name"] = "reader", ["PasswordHash"] = hash, ["Access"] = new JsonObject { ["*"] = "readonly" } });
        config["AllowBasicAuthOverHttp"] = true;
        await using var edge = await EdgeHost.StartAsync(config);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var key = await client.AddRandomFileAsync("file.bin", 100_000);

        var anonymous = await client.GitAsync("annex", "copy", "--to", "origin", "file.bin");
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.False(await node.HasKeyAsync(key), "an anonymous copy stored nothing");

        await UseCredentialsAsync(client, "reader");
        var reader = await client.GitAsync("annex", "copy", "--to", "origin", "file.bin");
        Assert.NotEqual(0, reader.ExitCode);
        Assert.False(await node.HasKeyAsync(key), "a readonly user's copy stored nothing");

        await UseCredentialsAsync(client, "writer");
        (await client.GitAsync("annex", "copy", "--to", "origin", "file.bin")).EnsureSuccess("copy as writer");
        Assert.True(await node.HasKeyAsync(key), "the writer's copy is on the node");
        (await client.GitAsync("annex", "drop", "file.bin")).EnsureSuccess("drop (locks on origin)");
        (await client.GitAsync("annex", "get", "--from", "origin", "file.bin")).EnsureSuccess("get as writer");

        await edge.EventAsync(EdgeEventIds.AccessDenied, e => e.Text("Endpoint") is "put" or "putoffset" && e.Text("Target") == "node1" && e.Text("User") == "reader");
        await edge.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "put" && e.Text("User") == "writer" && e.Text("Target") == "node1");
        // The get's request event comes after everything the edge logged about the session.
        await edge.EventAsync(e => e.IsRequest() && e.Text("Endpoint") == "key" && e.Text("User") == "writer");
        Assert.DoesNotContain(Password, edge.Logs);
    }

    /// <summary>A git credential helper that answers with this user, as a user's keyring would.</summary>
    private static async Task UseCredentialsAsync(AnnexClient client, string user)
    {
        (await client.GitAsync("config", "credential.helper", $"!f() {{ echo username={user}; echo password={Password}; }}; f")).EnsureSuccess("git config credential.helper");
    }
}
