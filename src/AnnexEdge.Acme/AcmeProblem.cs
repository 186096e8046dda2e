using System.Text.Json;

namespace AnnexEdge.Acme;

/// <summary>An RFC 7807 problem document as ACME servers send them (RFC 8555 §6.7), with subproblems.</summary>
public sealed record AcmeProblem(string Type, string? Detail, int? Status, IReadOnlyList<AcmeProblem> Subproblems, string? Identifier)
{
    public const string ErrorPrefix = "urn:ietf:params:acme:error:";

    /// <summary>The ACME error name without its URN prefix (<c>badNonce</c>, <c>rateLimited</c>...), or the whole type.</summary>
    public string Name => Type.StartsWith(ErrorPrefix, StringComparison.Ordinal) ? Type[ErrorPrefix.Length..] : Type;

    public bool IsBadNonce => Name == "badNonce";

    /// <summary>Parses a problem document; anything else (an HTML error page) becomes an <c>about:blank</c> problem holding its start.</summary>
    public static AcmeProblem Parse(string body, int? httpStatus)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return FromJson(document.RootElement, httpStatus);
        }
        catch (JsonException)
        {
            var start = body.Length > 200 ? body[..200] : body;
            return new AcmeProblem("about:blank", $"not a problem document: {start}", httpStatus, [], null);
        }
    }

    public static AcmeProblem FromJson(JsonElement json, int? httpStatus = null)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            return new AcmeProblem("about:blank", json.ToString(), httpStatus, [], null);
        }

        var type = json.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "about:blank";
        var detail = json.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
        var status = json.TryGetProperty("status", out var s) && s.TryGetInt32(out var code) ? code : httpStatus;
        string? identifier = null;
        if (json.TryGetProperty("identifier", out var id) && id.ValueKind == JsonValueKind.Object && id.TryGetProperty("value", out var v))
        {
            identifier = v.GetString();
        }

        var subproblems = new List<AcmeProblem>();
        if (json.TryGetProperty("subproblems", out var subs) && subs.ValueKind == JsonValueKind.Array)
        {
            subproblems.AddRange(subs.EnumerateArray().Select(sub => FromJson(sub)));
        }

        return new AcmeProblem(type, detail, status, subproblems, identifier);
    }

    /// <summary>One line for the log: type, status, detail, and each subproblem with its identifier.</summary>
    public override string ToString()
    {
        var text = $"{Name}{(Status is { } status ? $" ({status})" : "")}: {Detail}";
        foreach (var sub in Subproblems)
        {
            text += $"; {(sub.Identifier is null ? "" : sub.Identifier + ": ")}{sub.Name}: {sub.Detail}";
        }

        return text;
    }
}

/// <summary>The ACME server refused a request; <see cref="Problem"/> says why.</summary>
public sealed class AcmeProblemException : Exception
{
    public AcmeProblemException(AcmeProblem problem, string url)
        : base($"ACME request to {url} failed: {problem}")
    {
        Problem = problem;
        Url = url;
    }

    public AcmeProblemException()
        : this(new AcmeProblem("about:blank", null, null, [], null), "")
    {
    }

    public AcmeProblemException(string message)
        : base(message)
    {
        Problem = new AcmeProblem("about:blank", message, null, [], null);
        Url = "";
    }

    public AcmeProblemException(string message, Exception inner)
        : base(message, inner)
    {
        Problem = new AcmeProblem("about:blank", message, null, [], null);
        Url = "";
    }

    public AcmeProblem Problem { get; }

    public string Url { get; }
}
