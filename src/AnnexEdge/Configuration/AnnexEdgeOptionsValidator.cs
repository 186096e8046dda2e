using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Configuration;

/// <summary>
/// Checks the configuration at start-up and names every offending entry in one line an operator can act on.
/// </summary>
public sealed partial class AnnexEdgeOptionsValidator : IValidateOptions<AnnexEdgeOptions>
{
    private static readonly string[] KnownLoadBalancing =
        ["PowerOfTwoChoices", "LeastRequests", "RoundRobin", "Random", "FirstAlphabetical"];

    public ValidateOptionsResult Validate(string? name, AnnexEdgeOptions options)
    {
        var errors = Errors(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static IReadOnlyList<string> Errors(AnnexEdgeOptions options)
    {
        var errors = new List<string>();
        const string prefix = AnnexEdgeOptions.SectionName;

        if (options.Uuid is { } edgeUuid && !IsUuid(edgeUuid))
        {
            errors.Add($"{prefix}:Uuid \"{edgeUuid}\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)");
        }

        if (options.Repositories.Count == 0)
        {
            errors.Add($"{prefix}:Repositories is empty: configure at least one repository with Name, Uuid and Backends (see config/annexedge.example.json)");
        }

        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var uuids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Repositories.Count; i++)
        {
            var repo = options.Repositories[i];
            var at = $"{prefix}:Repositories[{i}]" + (string.IsNullOrWhiteSpace(repo.Name) ? "" : $" ({repo.Name})");

            if (string.IsNullOrWhiteSpace(repo.Name))
            {
                errors.Add($"{at}: Name is missing");
            }
            else if (!NamePattern().IsMatch(repo.Name))
            {
                errors.Add($"{at}: Name \"{repo.Name}\" may only hold letters, digits, '.', '_' and '-'");
            }
            else if (names.TryGetValue(repo.Name, out var first))
            {
                errors.Add($"{at}: Name \"{repo.Name}\" is already used by {prefix}:Repositories[{first}]");
            }
            else
            {
                names[repo.Name] = i;
            }

            if (!IsUuid(repo.Uuid))
            {
                errors.Add($"{at}: Uuid \"{repo.Uuid}\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)");
            }
            else if (uuids.TryGetValue(repo.Uuid, out var first))
            {
                errors.Add($"{at}: Uuid {repo.Uuid} is already used by {prefix}:Repositories[{first}]");
            }
            else if (repo.Uuid == options.Uuid)
            {
                errors.Add($"{at}: Uuid {repo.Uuid} is the edge's own {prefix}:Uuid");
            }
            else
            {
                uuids[repo.Uuid] = i;
            }

            if (repo.Backends.Count == 0)
            {
                errors.Add($"{at}: Backends is empty: give the base URL of at least one `git annex p2phttp` server, e.g. http://127.0.0.1:9417");
            }

            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var b = 0; b < repo.Backends.Count; b++)
            {
                var backend = repo.Backends[b];
                if (!TryParseBackend(backend, out var problem))
                {
                    errors.Add($"{at}: Backends[{b}] \"{backend}\" {problem}");
                }
                else if (!seen.Add(backend.TrimEnd('/')))
                {
                    errors.Add($"{at}: Backends[{b}] \"{backend}\" is listed twice");
                }
            }

            if (repo.LoadBalancing is { } lb && !KnownLoadBalancing.Contains(lb, StringComparer.Ordinal))
            {
                errors.Add($"{at}: LoadBalancing \"{lb}\" is unknown; use one of {string.Join(", ", KnownLoadBalancing)}");
            }
        }

        var health = options.HealthChecks;
        if (health.Interval <= TimeSpan.Zero || health.Timeout <= TimeSpan.Zero || health.ReactivationPeriod <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:HealthChecks: Interval, Timeout and ReactivationPeriod must be positive durations (e.g. \"00:00:10\")");
        }

        if (health.FailureThreshold < 1)
        {
            errors.Add($"{prefix}:HealthChecks:FailureThreshold must be 1 or more");
        }

        if (options.Locking.TokenKey is { } key && !IsTokenKey(key))
        {
            errors.Add($"{prefix}:Locking:TokenKey must be base64 of 32 bytes or more (make one with: head -c 32 /dev/urandom | base64)");
        }

        if (options.Forwarding.ActivityTimeout <= TimeSpan.Zero || options.Forwarding.ConnectTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Forwarding: ActivityTimeout and ConnectTimeout must be positive durations");
        }

        if (options.LogFormat is not ("text" or "json"))
        {
            errors.Add($"{prefix}:LogFormat \"{options.LogFormat}\" is unknown; use text or json");
        }

        return errors;
    }

    public static bool IsUuid(string? value) => value is not null && UuidPattern().IsMatch(value);

    private static bool TryParseBackend(string backend, out string problem)
    {
        if (!Uri.TryCreate(backend, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            problem = "is not an absolute http:// or https:// URL";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            problem = "must not hold a query, fragment or user info";
            return false;
        }

        if (uri.AbsolutePath.Contains("/git-annex", StringComparison.Ordinal))
        {
            problem = "must be the server's base URL: the edge appends /git-annex/{uuid}/... itself";
            return false;
        }

        problem = "";
        return true;
    }

    private static bool IsTokenKey(string key)
    {
        var buffer = new byte[key.Length];
        return Convert.TryFromBase64String(key, buffer, out var written) && written >= 32;
    }

    // \z, not $: $ also matches before a final newline.
    [GeneratedRegex(@"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z")]
    private static partial Regex UuidPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._-]+\z")]
    private static partial Regex NamePattern();
}
