using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// Sends every p2phttp endpoint (v4) to one UUID as each principal and records the status codes, so the same
/// matrix can be taken from the edge and from a real p2phttp and compared cell by cell.
/// </summary>
public static class AuthMatrix
{
    public const string ClientUuid = "c1e00000-0000-4000-8000-00000000a17e";

    public const string Password = "pw-Ü:1";

    /// <summary>Principals: no credentials, the three p2phttp user kinds, and a wrong password.</summary>
    public static readonly string[] Principals = ["anonymous", "ro", "ao", "fu", "wrong"];

    public static readonly string[] Endpoints =
        ["key", "checkpresent", "gettimestamp", "lockcontent", "keeplocked", "putoffset", "put", "remove", "remove-before"];

    /// <summary>The p2phttp users of the matrix: name to permission (null = full).</summary>
    public static readonly IReadOnlyDictionary<string, string?> Users = new Dictionary<string, string?>
    {
        ["ro"] = "readonly",
        ["ao"] = "appendonly",
        ["fu"] = null,
    };

    public static HttpClient NewClient() => new() { Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>Adds a small file to the node's repository and returns its key (so GET and lockcontent find content).</summary>
    public static async Task<string> AddPresentKeyAsync(Fixtures.P2pNode node)
    {
        await File.WriteAllTextAsync(Path.Combine(node.RepositoryPath, "present.txt"), "present content\n");
        (await node.GitAsync("annex", "add", "-q", "present.txt")).EnsureSuccess("annex add");
        (await node.GitAsync("commit", "-q", "-m", "present")).EnsureSuccess("commit");
        return (await node.GitAsync("annex", "lookupkey", "present.txt")).EnsureSuccess("lookupkey").Output.Trim();
    }

    /// <summary>"principal endpoint" to status code, for every principal and endpoint.</summary>
    public static async Task<SortedDictionary<string, int>> TakeAsync(
        HttpClient http, string baseUrl, string uuid, string presentKey, IEnumerable<string>? principals = null)
    {
        var result = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var principal in principals ?? Principals)
        {
            foreach (var endpoint in Endpoints)
            {
                result[$"{principal} {endpoint}"] = await StatusAsync(http, baseUrl, uuid, presentKey, principal, endpoint);
            }
        }

        return result;
    }

    public static AuthenticationHeaderValue? CredentialsOf(string principal) => principal switch
    {
        "anonymous" => null,
        "wrong" => Basic("fu", "not the password"),
        _ => Basic(principal, Password),
    };

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));

    private static async Task<int> StatusAsync(HttpClient http, string baseUrl, string uuid, string presentKey, string principal, string endpoint)
    {
        var prefix = $"{baseUrl}/git-annex/{uuid}/v4/";
        var newContent = Encoding.UTF8.GetBytes("matrix " + Guid.NewGuid());
        var newKey = $"SHA256E-s{newContent.Length}--{Convert.ToHexStringLower(SHA256.HashData(newContent))}";
        string? lockId = null;
        var lockOwner = principal;
        if (endpoint == "keeplocked")
        {
            // A real lock, so that an allowed keeplocked is a normal one: taken by the principal itself (the edge's
            // lock tokens are good for the client they were granted to only), or by the full user where the
            // principal may not lock (its keeplocked is then refused before the lockid is looked at).
            lockId = await LockAsync(http, prefix, presentKey, principal);
            if (lockId is null)
            {
                lockOwner = "fu";
                lockId = await LockAsync(http, prefix, presentKey, lockOwner) ?? "00000000-0000-4000-8000-000000000009";
            }
        }

        var (method, url, body) = endpoint switch
        {
            "key" => (HttpMethod.Get, $"{prefix}key/{presentKey}?clientuuid={ClientUuid}", (byte[]?)null),
            "keeplocked" => (HttpMethod.Post, $"{prefix}keeplocked?key={presentKey}&clientuuid={ClientUuid}&lockid={Uri.EscapeDataString(lockId!)}", "{\"unlock\": true}\n"u8.ToArray()),
            "put" => (HttpMethod.Post, $"{prefix}put?key={newKey}&clientuuid={ClientUuid}", newContent),
            "remove-before" => (HttpMethod.Post, $"{prefix}remove-before?key={newKey}&timestamp=1&clientuuid={ClientUuid}", null),
            "checkpresent" or "lockcontent" => (HttpMethod.Post, $"{prefix}{endpoint}?key={presentKey}&clientuuid={ClientUuid}", null),
            "gettimestamp" => (HttpMethod.Post, $"{prefix}gettimestamp?clientuuid={ClientUuid}", null),
            _ => (HttpMethod.Post, $"{prefix}{endpoint}?key={newKey}&clientuuid={ClientUuid}", null),
        };

        int status;
        using (var response = await SendAsync(http, method, url, principal, body))
        {
            status = (int)response.StatusCode;
            if (endpoint == "lockcontent" && status == 200
                && (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())?["lockid"] is { } granted)
            {
                // Locks pin p2phttp workers: let go at once.
                await ReleaseAsync(http, prefix, presentKey, granted, principal);
            }
        }

        if (lockId is not null && status != 200)
        {
            await ReleaseAsync(http, prefix, presentKey, lockId, lockOwner);
        }

        return status;
    }

    /// <summary>
    /// The lockid of a lock taken by the principal, or null when it was not granted one. A <c>{"locked":false}</c> is
    /// asked again a few times: p2phttp answers an unlock before its worker has let go of the content's lock file
    /// (it takes it exclusively for a moment to delete it), so a lock asked for at once may be refused although
    /// nothing holds the content.
    /// </summary>
    private static async Task<string?> LockAsync(HttpClient http, string prefix, string key, string principal)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var response = await SendAsync(http, HttpMethod.Post, $"{prefix}lockcontent?key={key}&clientuuid={ClientUuid}", principal, null);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            if ((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())?["lockid"] is { } lockId)
            {
                return lockId;
            }

            if (attempt == 4)
            {
                return null;
            }

            await Task.Delay(50 * attempt, TestContext.Current.CancellationToken);
        }
    }

    private static async Task ReleaseAsync(HttpClient http, string prefix, string key, string lockId, string owner)
    {
        using var _ = await SendAsync(
            http, HttpMethod.Post, $"{prefix}keeplocked?key={key}&clientuuid={ClientUuid}&lockid={Uri.EscapeDataString(lockId)}", owner, "{\"unlock\": true}\n"u8.ToArray());
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string url, string principal, byte[]? body)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = CredentialsOf(principal);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (url.Contains("/put?", StringComparison.Ordinal))
            {
                request.Content.Headers.Add("X-git-annex-data-length", body.Length.ToString());
            }
        }

        return await http.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
