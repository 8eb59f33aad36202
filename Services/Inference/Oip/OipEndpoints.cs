using System.Text.Json;
using MsSwift.Contracts;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// The Open Inference Protocol's REST API (KServe v2): <c>GET /v2</c>, <c>/v2/health/live</c>,
/// <c>/v2/health/ready</c>, <c>/v2/models/{m}[/versions/{v}]</c> and its <c>/ready</c>, and
/// <c>POST /v2/models/{m}[/versions/{v}]/infer</c>. Health and readiness answer 200 for true and
/// 400 for false, as the protocol says (a 4xx status means false). No version means production.
/// </summary>
internal static class OipEndpoints
{
    /// <summary>Triton's binary tensor extension announces itself with this header; only JSON tensors are served.</summary>
    private const string BinaryDataHeader = "Inference-Header-Content-Length";

    public static IEndpointRouteBuilder MapOipEndpoints(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2");
        v2.MapGet("", () => Results.Json(OipJson.ServerMetadata(OipModels.ServerMetadata())));
        v2.MapGet("/health/live", () => Results.Ok());
        v2.MapGet("/health/ready", (OipModels models) => models.ServerReady ? Results.Ok() : OipErrors.BadRequest("no model version is ready to serve"));
        v2.MapGet("/models/{model}", (string model, OipModels models) => Metadata(models, model, ""));
        v2.MapGet("/models/{model}/versions/{version}", (string model, string version, OipModels models) => Metadata(models, model, version));
        v2.MapGet("/models/{model}/ready", (string model, HttpContext http, OipModels models) => Ready(models, model, "", http));
        v2.MapGet("/models/{model}/versions/{version}/ready", (string model, string version, HttpContext http, OipModels models) => Ready(models, model, version, http));
        v2.MapPost("/models/{model}/infer", (string model, HttpContext http, OipInference inference) => InferAsync(http, inference, model, ""));
        v2.MapPost("/models/{model}/versions/{version}/infer", (string model, string version, HttpContext http, OipInference inference) => InferAsync(http, inference, model, version));
        return app;
    }

    private static IResult Metadata(OipModels models, string model, string version)
    {
        try
        {
            return Results.Json(OipJson.Metadata(models.Metadata(model, version)));
        }
        catch (PredictException error)
        {
            return OipErrors.From(error);
        }
    }

    private static IResult Ready(OipModels models, string model, string version, HttpContext http) =>
        models.ModelReady(model, version, Pins(http)) ? Results.Ok() : OipErrors.BadRequest($"model '{model}'{(version.Length > 0 ? $" version '{version}'" : "")} is not ready on this replica");

    private static async Task<IResult> InferAsync(HttpContext http, OipInference inference, string model, string version)
    {
        if (http.Request.Headers.ContainsKey(BinaryDataHeader))
        {
            return OipErrors.BadRequest("the binary tensor data extension is not supported: send the tensors as JSON (tritonclient: binary_data=False)");
        }

        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException error)
        {
            return OipErrors.BadRequest($"the body is not valid JSON: {error.Message}");
        }

        using (body)
        {
            try
            {
                var request = OipJson.Request(body.RootElement, model, version);
                var response = await inference.InferAsync(request, PredictExecutor.Http, Pins(http), http.RequestAborted);
                return Results.Json(OipJson.Response(response));
            }
            catch (PredictException error)
            {
                return OipErrors.From(error);
            }
        }
    }

    private static VersionPins Pins(HttpContext http) => VersionPins.Parse(http.Request.Headers[MsSwiftHeaders.VersionPins]);
}
