-- Argo CD health of a trading.eternal-engine.io Engine, from what the operator reports.
-- Running is Healthy; Pending, Starting and Halting are Progressing; Suspended and Halted (a
-- governance halt or spec.suspend) are Suspended; Degraded and Failed are Degraded. A status
-- older than the spec (observedGeneration behind) is Progressing. Lua 5.1 (gopher-lua).
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function explain(default)
  local ready = condition("Ready")
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    return ready.message
  end
  return default
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a phase"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "The operator has not acted on the latest spec yet"
  return hs
end

local phase = obj.status.phase
if phase == "Running" then
  local ready = condition("Ready")
  if ready ~= nil and ready.status == "False" then
    hs.status = "Degraded"
    hs.message = explain("Running but not Ready")
  else
    hs.status = "Healthy"
    hs.message = explain("Running")
  end
elseif phase == "Pending" or phase == "Starting" then
  hs.status = "Progressing"
  hs.message = explain(phase)
elseif phase == "Halting" then
  hs.status = "Progressing"
  hs.message = explain("Halting: cancelling orders and flattening")
elseif phase == "Halted" then
  hs.status = "Suspended"
  local halted = condition("Halted")
  if halted ~= nil and halted.message ~= nil and halted.message ~= "" then
    hs.message = "Halted: " .. halted.message
  else
    hs.message = "Halted by governance"
  end
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = explain("Suspended (spec.suspend)")
elseif phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = explain(phase)
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
