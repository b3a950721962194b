#!/bin/bash
#SBATCH --job-name=clash_sp
#SBATCH --ntasks=1
#SBATCH --time=10
# xTB single point on the optimised geometry that ccbatch copied here
# from ../opt/xtbopt.xyz before submitting.
export OMP_NUM_THREADS=1
xtb xtbopt.xyz --sp > clash_sp.out 2>&1
