using MsSwift.Inference.Extensions;
using MsSwift.Inference.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.Services.AddGrpc();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGrpcService<ModelServiceImpl>();
app.Run();
