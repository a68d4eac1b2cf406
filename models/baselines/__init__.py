"""The tutorial's offline baselines, trained and compared but not played: a PINN for the
damped oscillator (`pinn`, the inverse problem), and (to come) a neural ODE with a
Stormer-Verlet step and a Fourier neural operator on the string."""
